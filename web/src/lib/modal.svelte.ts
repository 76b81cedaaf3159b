import { onMount } from 'svelte';

/**
 * What every modal dialog of the app does alike. Made while its component starts: the `<dialog>`
 * bound to `element` opens as a modal when the component mounts and closes when it goes; Escape
 * closes it, except while its work runs; `run` does that work with the dialog busy and turns a
 * failure into the sentence the dialog shows (said there: a modal is above the page's notices).
 */
export class Modal {
  element: HTMLDialogElement | undefined = $state();
  busy = $state(false);
  failure = $state('');

  constructor(private readonly close: () => void) {
    onMount(() => {
      this.element?.showModal();
      return () => this.element?.close();
    });
  }

  /** For the dialog's `oncancel` (Escape): closes it unless its work is running. */
  readonly cancel = (event: Event): void => {
    event.preventDefault();
    if (!this.busy) this.close();
  };

  /**
   * Runs `work` with the dialog busy and its last failure cleared. A throw becomes `failure`: the
   * error's message (the API's sentences are written for people), or `fallback`. True when it worked.
   */
  async run(work: () => Promise<unknown>, fallback: string): Promise<boolean> {
    this.busy = true;
    this.failure = '';
    try {
      await work();
      return true;
    } catch (error) {
      this.failure = error instanceof Error && error.message ? error.message : fallback;
      return false;
    } finally {
      this.busy = false;
    }
  }
}
