// Usability checks run inside the page: touch targets and text contrast.

/** Visible interactive elements smaller than 48×48 CSS px. */
export const SMALL_TARGETS = `
  const out = [];
  for (const el of document.querySelectorAll('button, a[href], input:not([type=hidden]), select, textarea, [role=button], [role=tab]')) {
    const cs = getComputedStyle(el);
    // A control inside its label is hit anywhere on the label.
    const label = el.tagName === 'INPUT' ? el.closest('label') : null;
    const r = (label || el).getBoundingClientRect();
    if (r.width === 0 || r.height === 0 || cs.visibility === 'hidden' || cs.display === 'none') continue;
    if (r.width < 48 || r.height < 48) out.push((el.dataset.testid || el.tagName) + ' ' + Math.round(r.width) + 'x' + Math.round(r.height));
  }
  return out;`;

/** Visible text whose contrast with its background is below 4.5:1. */
export const LOW_CONTRAST = `
  const parse = (c) => { const m = c.match(/rgba?\\(([^)]+)\\)/); if (!m) return null; const p = m[1].split(',').map(Number); return { r: p[0], g: p[1], b: p[2], a: p.length > 3 ? p[3] : 1 }; };
  const lum = ({ r, g, b }) => { const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); }; return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b); };
  const bg = (el) => { for (let e = el; e; e = e.parentElement) { const c = parse(getComputedStyle(e).backgroundColor); if (c && c.a > 0.5) return c; } return { r: 255, g: 255, b: 255, a: 1 }; };
  const out = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  const seen = new Set();
  while (walker.nextNode()) {
    const t = walker.currentNode; const el = t.parentElement;
    if (!el || seen.has(el) || !t.textContent.trim()) continue;
    seen.add(el);
    const r = el.getBoundingClientRect(); const cs = getComputedStyle(el);
    if (r.width === 0 || r.height === 0 || cs.visibility === 'hidden' || el.closest('.leaflet-container')) continue;
    const fg = parse(cs.color); if (!fg) continue;
    const b = bg(el); const l1 = lum(fg), l2 = lum(b);
    const ratio = (Math.max(l1, l2) + 0.05) / (Math.min(l1, l2) + 0.05);
    if (ratio < 4.5) out.push(t.textContent.trim().slice(0, 20) + ' ' + ratio.toFixed(2));
  }
  return out;`;
