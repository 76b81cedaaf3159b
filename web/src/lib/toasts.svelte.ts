export interface Toast {
  id: number;
  text: string;
  tone: 'info' | 'error';
}

/** Short messages at the bottom of the screen that go away by themselves. */
class ToastState {
  items = $state<Toast[]>([]);
  #next = 1;

  show(text: string, tone: Toast['tone'] = 'info'): void {
    const id = this.#next++;
    this.items = [...this.items.slice(-2), { id, text, tone }];
    setTimeout(() => this.dismiss(id), tone === 'error' ? 7000 : 4000);
  }

  dismiss(id: number): void {
    this.items = this.items.filter((toast) => toast.id !== id);
  }

  clear(): void {
    this.items = [];
  }
}

export const toasts = new ToastState();
