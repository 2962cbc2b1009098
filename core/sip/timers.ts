/** setTimeout with a live count, so the admin interface and tests can see timers return to zero. */
export interface TimerHandle {
  cancel(): void;
}

export class Timers {
  private readonly live = new Set<NodeJS.Timeout>();

  get count(): number {
    return this.live.size;
  }

  after(ms: number, fn: () => void): TimerHandle {
    const t = setTimeout(() => {
      this.live.delete(t);
      fn();
    }, ms);
    this.live.add(t);
    return { cancel: () => { clearTimeout(t); this.live.delete(t); } };
  }

  cancelAll(): void {
    for (const t of this.live) clearTimeout(t);
    this.live.clear();
  }
}
