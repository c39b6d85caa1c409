import { useState } from "react";
import { api, can, useSession } from "../api";
import { ConfirmButton, ErrorBox, Section, Table, useLoad } from "../ui";

function Act({ title, fields, submit, label, confirm }: {
  title: string;
  fields: [string, string, string?][];
  submit: (v: Record<string, string>) => Promise<unknown>;
  label: string;
  confirm?: (v: Record<string, string>) => string;
}) {
  const [v, setV] = useState<Record<string, string>>({});
  const [error, setError] = useState<unknown>();
  const [result, setResult] = useState<unknown>();
  const run = async () => {
    setError(undefined);
    setResult(undefined);
    try { setResult(await submit(v)); } catch (e) { setError(e); }
  };
  return (
    <Section title={title} id={`mod-${label.replace(/\W/g, "")}`}>
      <form className="row" onSubmit={(e) => { e.preventDefault(); if (!confirm) run(); }}>
        {fields.map(([k, lab, type]) => (
          <label key={k}>{lab} <input name={k} type={type ?? "text"} value={v[k] ?? ""} onChange={(e) => setV({ ...v, [k]: e.target.value })} /></label>
        ))}
        {confirm ? <ConfirmButton label={label} what={confirm(v)} onConfirm={run} /> : <button type="submit">{label}</button>}
      </form>
      <ErrorBox error={error} />
      {result !== undefined && <pre tabIndex={0} className="json" role="status">{JSON.stringify(result, null, 2)}</pre>}
    </Section>
  );
}

const unix = (s: string) => (s ? Math.floor(new Date(s).getTime() / 1000) : undefined);

export function ModerationPage() {
  const s = useSession();
  return (
    <>
      <h1>Moderation</h1>
      <p className="muted">The admin API has no device lookup by itself; each act below answers with the device's trust tier and rate limit.</p>
      {can(s, "verify_devices") && (
        <>
          <Act title="Verify a device" label="Verify" fields={[["device_address", "Device address"], ["reason", "Reason"]]}
            submit={(v) => api("POST", "/admin/v1/trust/verify", { device_address: v.device_address?.trim(), reason: v.reason })} />
          <Act title="Revoke a verification" label="Revoke verification" fields={[["device_address", "Device address"], ["reason", "Reason"]]}
            confirm={(v) => `Device ${v.device_address || "(none)"} loses its verified tier.`}
            submit={(v) => api("POST", "/admin/v1/trust/revoke", { device_address: v.device_address?.trim(), reason: v.reason })} />
          <Act title="Unblock a device" label="Unblock" fields={[["device_address", "Device address"], ["reason", "Reason"]]}
            submit={(v) => api("POST", "/admin/v1/trust/unblock", { device_address: v.device_address?.trim(), reason: v.reason })} />
        </>
      )}
      {can(s, "modify_rate_limits") && (
        <Act title="Set a rate limit" label="Set rate limit"
          fields={[["device_address", "Device address"], ["custom_rate_limit", "Messages per window (empty removes)", "number"], ["reason", "Reason"], ["expires_at", "Expires", "datetime-local"]]}
          submit={(v) => api("POST", "/admin/v1/trust/set-rate-limit", {
            device_address: v.device_address?.trim(), reason: v.reason,
            custom_rate_limit: v.custom_rate_limit ? Number(v.custom_rate_limit) : null,
            ...(v.expires_at ? { expires_at: unix(v.expires_at) } : {}),
          })} />
      )}
      {can(s, "block_federation") && <Federation />}
    </>
  );
}

function Federation() {
  const list = useLoad(() => api("GET", "/admin/v1/federation/blocked"), []);
  const [domain, setDomain] = useState("");
  const [reason, setReason] = useState("");
  const [error, setError] = useState<unknown>();
  return (
    <Section title="Federation block list" id="fed">
      <form className="row" onSubmit={async (e) => {
        e.preventDefault(); setError(undefined);
        try { await api("POST", "/admin/v1/federation/block", { domain: domain.trim(), reason }); setDomain(""); setReason(""); list.reload(); } catch (err) { setError(err); }
      }}>
        <label>Domain <input name="domain" value={domain} onChange={(e) => setDomain(e.target.value)} /></label>
        <label>Reason <input name="block_reason" value={reason} onChange={(e) => setReason(e.target.value)} /></label>
        <button type="submit">Block server</button>
      </form>
      <ErrorBox error={error} />
      <ErrorBox error={list.error} />
      {list.data && (
        <Table rows={list.data.blocked_peers} empty="No server is blocked."
          columns={["domain", "reason", "blocked_by", "blocked_at", "expires_at", "auto_blocked"]}
          actions={(r) => <ConfirmButton label="Unblock" what={`Federation with ${r.domain} resumes.`}
            onConfirm={() => api("POST", "/admin/v1/federation/unblock", { domain: r.domain, reason: "unblocked from the dashboard" }).then(list.reload)} />} />
      )}
    </Section>
  );
}
