// Types of offgrid's service worker entry (worker.js).

/** Shell caches are named with this prefix and the build's version. */
export const SHELL_CACHE_PREFIX: 'offgrid-shell-';

export interface InstallOptions {
  /** The instance's origin; '' (default) for the worker's own. */
  instance?: string;
  /** The prefix of the per-user IndexedDB databases (default `offgrid`). */
  dbPrefix?: string;
  shell: {
    /** Changes with every build: names the shell cache, so a new build waits beside the old one. */
    version: string;
    /** The app's files to precache, as URL paths; the package's own files are added. */
    files?: string[];
  };
}

/** Installs offgrid's handlers in this service worker; call it on the script's first run. */
export function installOffgrid(options: InstallOptions): void;
