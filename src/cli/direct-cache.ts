/** The writer's cache when the CLI talks to the calendar itself: a Mirror plus decoding. */
import type { Config } from '../config/schema.js';
import type { CalendarSource } from '../caldav/source.js';
import type { CalendarObject, Occurrence } from '../core/types.js';
import { Mirror } from '../bridge/mirror.js';
import { decodeObjects } from '../core/ics-read.js';
import type { WriteCache } from '../bridge/writer.js';

const DAY = 86_400_000;

export class DirectCache implements WriteCache {
  private decoded: Occurrence[] | null = null;
  private constructor(
    private readonly mirror: Mirror,
    private readonly config: Config,
  ) {}

  static async open(dir: string, source: CalendarSource, config: Config): Promise<DirectCache> {
    return new DirectCache(await Mirror.open(dir, source), config);
  }

  async sync(): Promise<void> {
    await this.mirror.sync(new Date(), this.config.bridge.fullReconcileMs);
    this.decoded = null;
  }

  /** The span decoded: from yesterday to [bridge] window_days ahead. */
  window(): { from: Date; to: Date } {
    const now = Date.now();
    return { from: new Date(now - DAY), to: new Date(now + this.config.bridge.windowDays * DAY) };
  }

  occurrences(): Occurrence[] {
    if (!this.decoded) {
      const { from, to } = this.window();
      return (this.decoded = decodeObjects(this.mirror.liveObjects(from.getTime()), {
        timezone: this.config.timezone,
        from,
        to,
      }).occurrences);
    }
    return this.decoded;
  }
  get(href: string): CalendarObject | undefined {
    return this.mirror.get(href);
  }
  async remember(obj: CalendarObject): Promise<void> {
    await this.mirror.remember(obj);
    this.decoded = null;
  }
  async forget(href: string): Promise<void> {
    await this.mirror.forget(href);
    this.decoded = null;
  }
  close(): void {
    this.mirror.close();
  }
}
