import { errorText } from "./errors";

/** What a detail screen shows while its one action runs: buttons disabled
 * while `busy`, and the error the last try (or the load) left, in words. */
export class Action {
  busy = $state(false);
  error = $state<string | null>(null);

  /** Runs `fn` holding `busy`; a failure becomes `error` in words unless
   * `handled` takes it (a question to ask the user, not an error). */
  async run(fn: () => Promise<void>, handled: (e: unknown) => boolean = () => false): Promise<void> {
    this.busy = true;
    this.error = null;
    try {
      await fn();
    } catch (e) {
      if (!handled(e)) this.error = errorText(e);
    } finally {
      this.busy = false;
    }
  }

  /** Keeps a load's failure as `error`. */
  failed = (e: unknown) => {
    this.error = errorText(e);
  };
}
