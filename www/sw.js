// offgrid's service worker: the package's worker entry with this app's shell. The build
// (scripts/package.mjs) writes the shell's files and version into pkg/shell.js, so each build
// gets its own shell cache and the app offers to reload when a new one is ready.
import { installOffgrid } from '/pkg/worker.js';
import { SHELL } from '/pkg/shell.js';

installOffgrid({ instance: '', dbPrefix: 'offgrid', shell: SHELL });
