// Durable commits without blocking the event loop. better-sqlite3 runs on the main thread, so a
// commit with synchronous=FULL stops every request for the length of an fsync (milliseconds on
// this kind of disk). The real-time connection commits with synchronous=NORMAL instead (in WAL
// mode the frames reach the OS at commit, the WAL is synced only at checkpoints), and a caller
// that needs the commit on disk awaits `WalSync.sync()`: an fdatasync of the WAL file on libuv's
// thread pool. Syncs are shared: every commit made before a sync starts is covered by it, so one
// fdatasync serves all the requests that committed meanwhile.
import { closeSync, fdatasync, openSync } from 'node:fs';

/** How a file's data reaches the disk: fs.fdatasync (tests hold it to see who waits for it). */
export type SyncFile = (fd: number, callback: (err: NodeJS.ErrnoException | null) => void) => void;

export class WalSync {
  private fd: number | null = null;
  /** The sync running now, and the one queued behind it for commits made after it started. */
  private running: Promise<void> | null = null;
  private queued: Promise<void> | null = null;

  constructor(
    private readonly walFile: string,
    private readonly syncFile: SyncFile = fdatasync,
  ) {}

  /** Resolves once everything committed before this call is on disk. */
  sync(): Promise<void> {
    if (!this.running) return (this.running = this.start());
    // The running sync may have started before the caller's commit: wait for the next one.
    if (!this.queued) {
      this.queued = this.running.then(
        () => this.promoteQueued(),
        () => this.promoteQueued(),
      );
    }
    return this.queued;
  }

  private promoteQueued(): Promise<void> {
    this.queued = null;
    this.running = this.start();
    return this.running;
  }

  private start(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      let fd: number;
      try {
        // The WAL exists once the first transaction ran; it keeps its inode while connections are open.
        fd = this.fd ??= openSync(this.walFile, 'r');
      } catch (err) {
        // No WAL: nothing was committed through one (an empty group on a new database).
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') resolve();
        else reject(err);
        return;
      }
      this.syncFile(fd, (err) => (err ? reject(err) : resolve()));
    }).finally(() => {
      if (!this.queued) this.running = null;
    });
  }

  close(): void {
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
  }
}
