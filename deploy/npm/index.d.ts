/** The filesystem path of litestream-vfs.so for this process's platform and architecture. */
export function getLoadablePath(): string;

/** Loads the extension into db (better-sqlite3, or node:sqlite with allowExtension: true); returns db. */
export function load<T extends { loadExtension(path: string): unknown }>(db: T): T;
