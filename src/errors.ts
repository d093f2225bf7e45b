/**
 * The one family of errors edgevae throws. Every failure a user can cause (a bad model file, a bad
 * argument, a request the runtime cannot serve) becomes one of these, with a message that names
 * what is wrong, so callers can `instanceof`-check or switch on `code`.
 */
export type ErrorCode =
  | 'FORMAT' // the model file is malformed, corrupted or of an unknown version
  | 'INPUT' // an argument to the API is out of range or of the wrong kind
  | 'UNSUPPORTED' // a valid thing we do not (yet) handle, e.g. a layer type at export
  | 'RUNTIME'; // the wasm executor reported a failure or memory could not be had

export class EdgeVaeError extends Error {
  // Each class, subclasses elsewhere included, spells its name out rather than taking new.target.name:
  // minifiers rename classes (the browser bundles are minified), and a DecoderPool's workers send
  // their errors across by name.
  override name = 'EdgeVaeError';
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

/** The model file cannot be read: truncated, corrupted, wrong magic or version, inconsistent layers. */
export class FormatError extends EdgeVaeError {
  override name = 'FormatError';
  constructor(message: string, options?: { cause?: unknown }) {
    super('FORMAT', message, options);
  }
}

/** An argument is wrong: out of range, wrong length, wrong type. */
export class InputError extends EdgeVaeError {
  override name = 'InputError';
  constructor(message: string, options?: { cause?: unknown }) {
    super('INPUT', message, options);
  }
}

/** Something valid that edgevae does not support, such as a Keras layer with no runtime equivalent. */
export class UnsupportedError extends EdgeVaeError {
  override name = 'UnsupportedError';
  constructor(message: string, options?: { cause?: unknown }) {
    super('UNSUPPORTED', message, options);
  }
}

/** The executor failed: a status code from wasm, or memory that could not be grown. */
export class RuntimeError extends EdgeVaeError {
  override name = 'RuntimeError';
  constructor(message: string, options?: { cause?: unknown }) {
    super('RUNTIME', message, options);
  }
}
