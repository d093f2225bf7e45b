/** The package version, kept in step with package.json (a test checks it), stamped into exported files. */
export const VERSION = '0.1.0';
