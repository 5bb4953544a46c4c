// Sessions sub-port of the Store: web UI sign-ins (src/web/session.ts), kept in the database so
// that every node behind a load balancer knows every session, and signing out on one ends it on all.
// Rows hold hashes only: of the session id in the cookie and of the API key the session stands for.

export interface UiSessionRecord {
  /** SHA-256 of the session id (the cookie's value). */
  idHash: string;
  /** SHA-256 of the API key the session stands for. */
  keyHash: string;
  /** ISO */
  createdAt: string;
  /** ISO; written at most once a minute or so (the idle timeout allows for it). */
  lastSeenAt: string;
}

export interface UiSessionStore {
  createSession(session: UiSessionRecord): Promise<void>;
  getSession(idHash: string): Promise<UiSessionRecord | undefined>;
  /** Marks a session used at `at` (never moves it back in time). */
  touchSession(idHash: string, at: string): Promise<void>;
  deleteSession(idHash: string): Promise<void>;
  /** Deletes the sessions last seen before `seenBefore` or created before `createdBefore` (both ISO); returns how many. */
  deleteEndedSessions(seenBefore: string, createdBefore: string): Promise<number>;
  /** Keeps the `keep` most recently seen sessions and deletes the rest; returns how many went. */
  trimSessions(keep: number): Promise<number>;
}
