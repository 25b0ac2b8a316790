// The browser half of WebAuthn, through @simplewebauthn/browser as the vault serves it
// (/console/vendor/simplewebauthn-browser.js, from the installed package: no CDN, the CSP allows 'self' only).
// Loaded on first use, so a reviewer who never touches a passkey never downloads it.
import { h } from "./dom.js";

const LIBRARY = "/console/vendor/simplewebauthn-browser.js";
let loading = null;

/** The library's UMD build sets globalThis.SimpleWebAuthnBrowser when its <script> runs. */
function library() {
  if (globalThis.SimpleWebAuthnBrowser) return Promise.resolve(globalThis.SimpleWebAuthnBrowser);
  loading ??= new Promise((resolve, reject) => {
    const fail = () => {
      loading = null;
      script.remove();
      reject(new PasskeyError("The passkey library did not load. Reload the page and try again."));
    };
    const script = h("script", {
      src: LIBRARY,
      onload: () => (globalThis.SimpleWebAuthnBrowser ? resolve(globalThis.SimpleWebAuthnBrowser) : fail()),
      onerror: fail,
    });
    document.head.append(script);
  });
  return loading;
}

/** A failure on the browser's side (no support, cancelled, timed out): nothing reached the vault. */
export class PasskeyError extends Error {
  describe() {
    return this.message;
  }
}

/** Whether this page can use passkeys at all: WebAuthn needs a secure context (https, or plain http on localhost). */
export function passkeysUnavailable() {
  if (!window.isSecureContext) return "Passkeys need a secure page: open the console over https (or on localhost).";
  if (typeof window.PublicKeyCredential !== "function") return "This browser does not support passkeys (WebAuthn).";
  return null;
}

/** The authenticator's refusals, said as a reviewer can act on them. */
function explain(err, what) {
  const name = err?.name ?? "";
  const code = err?.code ?? "";
  if (name === "NotAllowedError") return `The passkey was not used: ${what} was cancelled or timed out. Nothing was recorded.`;
  if (code === "ERROR_AUTHENTICATOR_PREVIOUSLY_REGISTERED" || name === "InvalidStateError") return "This authenticator already holds one of your passkeys.";
  if (name === "SecurityError") return "The browser refused: this page's address does not match the vault's passkey settings (VAULT_WEBAUTHN_RP_ID).";
  if (name === "NotSupportedError") return "No authenticator here supports the passkey types the vault accepts (ES256 or Ed25519 with user verification).";
  return `The passkey step failed: ${err?.message ?? String(err)}`;
}

async function run(what, step) {
  const unavailable = passkeysUnavailable();
  if (unavailable) throw new PasskeyError(unavailable);
  const lib = await library();
  try {
    return await step(lib);
  } catch (err) {
    throw new PasskeyError(explain(err, what));
  }
}

/** Creates a credential from the vault's creation options; the answer goes to POST /passkeys/register. */
export const createPasskey = (optionsJSON) => run("enrolment", (lib) => lib.startRegistration({ optionsJSON }));

/** Approves a new enrolment with one of the reviewer's existing passkeys (the options' `step_up`, whose challenge commits to it). */
export const approveEnrolment = (optionsJSON) => run("approving the new passkey with one you already have", (lib) => lib.startAuthentication({ optionsJSON }));

/** Signs the vault's request options (their challenge is the commitment to the vote) with one of the reviewer's passkeys. */
export const signWithPasskey = (optionsJSON) => run("signing", (lib) => lib.startAuthentication({ optionsJSON }));
