// Admin device login: the challenge is signed here, in the page, with the Ed25519 seed
// the admin loads from a key file (64 hex characters). The seed never leaves the page.
import * as ed from "@noble/ed25519";
import { blake2b } from "@noble/hashes/blake2.js";

export function parseSeed(text: string): Uint8Array {
  const hex = text.trim().toLowerCase();
  if (!/^[0-9a-f]{64}$/.test(hex)) {
    throw new Error("The key file must hold the hex of a 32-byte Ed25519 seed (64 hex characters)");
  }
  const out = new Uint8Array(32);
  for (let i = 0; i < 32; i++) out[i] = parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  return out;
}

export function toHex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** device id: hex of the 16-byte BLAKE2b digest of the raw public key */
export async function deviceId(seed: Uint8Array): Promise<string> {
  const pub = await ed.getPublicKeyAsync(seed);
  return toHex(blake2b(pub, { dkLen: 16 }));
}

export async function signChallenge(seed: Uint8Array, challenge: string): Promise<string> {
  const sig = await ed.signAsync(new TextEncoder().encode(challenge), seed);
  return toHex(sig);
}
