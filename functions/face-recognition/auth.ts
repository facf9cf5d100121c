// The bearer token check, shared by the handler and the server (which checks before it answers an
// async call's 202 or reads a body).
import { createHash, timingSafeEqual } from "node:crypto";

/** Whether an Authorization header carries the token; with no token configured, every header does. */
export function bearerCheck(token: string | undefined): (authorization: string | undefined) => boolean {
  if (!token) return () => true;
  const expected = digest(token);
  // Constant-time: compares fixed-length digests, so neither length nor content leaks by timing.
  return (authorization) => {
    const match = /^Bearer (.+)$/i.exec(authorization ?? "");
    return match ? timingSafeEqual(digest((match[1] as string).trim()), expected) : false;
  };
}

function digest(value: string): Buffer {
  return createHash("sha256").update(value).digest();
}
