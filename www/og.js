// The offgrid client the app uses, from the package the instance serves at /pkg/.
export { Offgrid, OffgridError } from '/pkg/client.js';
