/** Bytes of a base64 string, with only what every JavaScript engine has (atob). */
export function fromBase64(text: string): Uint8Array {
  return Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
}
