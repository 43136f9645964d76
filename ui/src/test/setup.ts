// jsdom lacks ResizeObserver (Svelte's bind:clientHeight uses it); the webview has it.
class ResizeObserverStub {
  observe() {}
  unobserve() {}
  disconnect() {}
}
globalThis.ResizeObserver ??= ResizeObserverStub as unknown as typeof ResizeObserver;
