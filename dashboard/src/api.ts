// The public HTTP API, same origin. The session (token, expiry, permissions) lives in
// memory and in sessionStorage (this tab only); it is refreshed a minute before expiry
// and logout revokes it on the server.
import { useSyncExternalStore } from "react";

export type Session = {
  token: string;
  expiresAt: number; // unix seconds
  permissions: string[];
  level: string;
  who: string;
  kind: "operator" | "device";
};

export class ApiError extends Error {
  constructor(
    public status: number,
    public code: string,
    message: string,
    public details: unknown = undefined,
  ) {
    super(message);
  }
}

const KEY = "adminplane.session";
let session: Session | null = load();
const listeners = new Set<() => void>();
let refreshTimer: number | undefined;

function load(): Session | null {
  try {
    const raw = sessionStorage.getItem(KEY);
    const s = raw ? (JSON.parse(raw) as Session) : null;
    return s && s.expiresAt > Date.now() / 1000 ? s : null;
  } catch {
    return null;
  }
}

function emit() {
  listeners.forEach((l) => l());
}

export function setSession(s: Session | null) {
  session = s;
  if (s) sessionStorage.setItem(KEY, JSON.stringify(s));
  else sessionStorage.removeItem(KEY);
  scheduleRefresh();
  emit();
}

export function getSession() {
  return session;
}

export function useSession(): Session | null {
  return useSyncExternalStore(
    (l) => {
      listeners.add(l);
      return () => listeners.delete(l);
    },
    () => session,
  );
}

export function can(s: Session | null, permission: string): boolean {
  return !!s && (s.permissions.includes("all") || s.permissions.includes(permission));
}

function scheduleRefresh() {
  window.clearTimeout(refreshTimer);
  if (!session) return;
  const inMs = Math.max(1_000, (session.expiresAt - 60) * 1000 - Date.now());
  refreshTimer = window.setTimeout(refresh, Math.min(inMs, 2 ** 31 - 1));
}

scheduleRefresh(); // a session restored from this tab's storage is kept fresh too

export async function refresh() {
  if (!session) return;
  try {
    const r = await api<{ admin_token: string; expires_at: number }>("POST", "/admin/v1/auth/refresh");
    setSession({ ...session, token: r.admin_token, expiresAt: r.expires_at });
  } catch (e) {
    // a session past its 12 hours (or revoked) cannot refresh: log in again
    if (e instanceof ApiError && (e.status === 401 || e.status === 403)) setSession(null);
    else scheduleRefresh();
  }
}

export async function logout() {
  try {
    if (session) await api("POST", "/admin/v1/auth/logout");
  } finally {
    setSession(null);
  }
}

export async function api<T = any>(
  method: string,
  path: string,
  body?: unknown,
  opts: { raw?: boolean; query?: Record<string, string | number | undefined | null> } = {},
): Promise<T> {
  const headers: Record<string, string> = {};
  if (session) headers["Authorization"] = `Bearer ${session.token}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let url = path;
  if (opts.query) {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(opts.query)) if (v !== undefined && v !== null && v !== "") q.set(k, String(v));
    const qs = q.toString();
    if (qs) url += (url.includes("?") ? "&" : "?") + qs;
  }
  let res: Response;
  try {
    res = await fetch(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), cache: "no-store" });
  } catch (e) {
    throw new ApiError(0, "NETWORK_ERROR", `The API did not answer (${String(e)})`);
  }
  if (!res.ok) {
    let code = `HTTP_${res.status}`;
    let message = res.statusText || "Request failed";
    let details: unknown;
    try {
      const j = await res.json();
      code = String(j.error ?? j.code ?? code);
      message = String(j.message ?? message);
      details = j.details;
    } catch {
      /* not JSON */
    }
    if (res.status === 401 && session && path !== "/admin/v1/auth/logout") {
      // the session ended (logout elsewhere, expiry): back to the login page
      setSession(null);
    }
    throw new ApiError(res.status, code, message, details);
  }
  if (opts.raw) return (await res.text()) as unknown as T;
  if (res.status === 204) return undefined as T;
  const text = await res.text();
  return (text ? JSON.parse(text) : undefined) as T;
}

export const PERMISSIONS = [
  "view_instances", "manage_instances", "manage_keys", "deploy_spec", "manage_ops", "load_data",
  "erase_data", "view_metrics", "view_audit", "manage_config", "verify_devices",
  "modify_rate_limits", "block_federation",
];
