/**
 * Access keys: issue, rotate, revoke. A new key is shown once, in a panel the admin closes; after "Done" it is no
 * longer held anywhere in the page.
 */
import { useEffect, useId, useRef, useState, type FormEvent } from "react";
import { useApiAction, useApiQuery } from "../../api/hooks";
import { issueKey, listKeys, revokeKey, rotateKey, type AccessKey, type IssueKey, type IssuedKey, type RotateKey } from "../../api/users";
import { ConfirmButton } from "../../components/ConfirmButton";
import { CopyButton } from "../../components/CopyButton";
import { fieldError, FormError, SelectField } from "../../components/Field";
import { Empty, Loaded } from "../../components/States";
import { TableWrap } from "../../components/TableWrap";
import { Time } from "../../components/Time";
import { useAttemptKey } from "./attempts";
import { KeyStatusBadge } from "./badges";

/** Key lifetimes on offer (the API takes 1 to 3650 days, or none). */
const EXPIRY_OPTIONS: [string, string][] = [
  ["", "Never"],
  ["7", "7 days"],
  ["30", "30 days"],
  ["90", "90 days"],
  ["180", "180 days"],
  ["365", "1 year"],
  ["730", "2 years"],
];

function ExpirySelect({ label, value, onChange, error }: { label: string; value: string; onChange(value: string): void; error?: string }) {
  return (
    <SelectField label={label} value={value} onChange={(event) => onChange(event.target.value)} error={error}>
      {EXPIRY_OPTIONS.map(([days, text]) => (
        <option key={days} value={days}>
          {text}
        </option>
      ))}
    </SelectField>
  );
}

const GRACE_OPTIONS: [string, string][] = [
  ["", "The deployment's default (24 hours unless changed)"],
  ["0", "No grace: the old key stops now"],
  ["3600", "1 hour"],
  ["86400", "1 day"],
  ["604800", "7 days"],
];

export function KeysSection({ userId, canChange }: { userId: string; canChange: boolean }) {
  const keys = useApiQuery(`keys:${userId}`, (api) => listKeys(api, userId));
  const [issued, setIssued] = useState<IssuedKey | null>(null);
  const [expiry, setExpiry] = useState("");
  const issueAttempt = useAttemptKey();
  const rotateAttempt = useAttemptKey();
  const issue = useApiAction((api, body: IssueKey, key: string) => issueKey(api, userId, body, key));
  const keyChange = useApiAction((api, change: { revoke: string } | { rotate: string; body: RotateKey; key: string }) =>
    "revoke" in change ? revokeKey(api, userId, change.revoke) : rotateKey(api, userId, change.rotate, change.body, change.key),
  );

  async function submitIssue(event: FormEvent) {
    event.preventDefault();
    if (issue.pending) return;
    const body: IssueKey = expiry ? { expires_in_days: Number(expiry) } : {};
    const answer = await issue.run(body, issueAttempt.keyFor(body));
    if (answer) {
      issueAttempt.succeeded();
      setExpiry("");
      setIssued(answer);
      keys.reload();
    }
  }

  async function rotate(accessKey: AccessKey, body: RotateKey) {
    const request = { rotate: accessKey.key_id, body };
    const answer = await keyChange.run({ ...request, key: rotateAttempt.keyFor(request) });
    if (answer) {
      rotateAttempt.succeeded();
      setIssued(answer as IssuedKey);
      keys.reload();
    }
  }

  async function revoke(accessKey: AccessKey) {
    if (await keyChange.run({ revoke: accessKey.key_id })) keys.reload();
  }

  return (
    <section className="panel" aria-labelledby="keys-heading">
      <h2 id="keys-heading">Access keys</h2>
      <p className="muted">A key says who a developer is to Overspill; their Claude Code login (plan or API key) stays their own.</p>
      {issued && <IssuedKeyPanel issued={issued} onDone={() => setIssued(null)} />}
      {canChange && !issued && (
        <form className="form-row" onSubmit={submitIssue} noValidate>
          <ExpirySelect label="Key expires after" value={expiry} onChange={setExpiry} error={fieldError(issue.error, "expires_in_days")} />
          <div className="actions" style={{ flex: "0 0 auto", marginTop: "1.4rem" }}>
            <button type="submit" className="primary" disabled={issue.pending}>
              {issue.pending ? "Issuing…" : "Issue key"}
            </button>
          </div>
        </form>
      )}
      <FormError error={issue.error} fields={["expires_in_days"]} />
      <FormError error={keyChange.error} fields={[]} />
      <Loaded query={keys} loadingLabel="Loading keys…">
        {({ items }) =>
          items.length === 0 ? (
            <Empty>
              <p>No keys yet.{canChange ? " Issue one and give the developer the line to paste." : ""}</p>
            </Empty>
          ) : (
            <TableWrap label="Access keys">
              <table>
                <caption className="visually-hidden">Access keys</caption>
                <thead>
                  <tr>
                    <th scope="col">Prefix</th>
                    <th scope="col">Status</th>
                    <th scope="col">Created</th>
                    <th scope="col">Last used</th>
                    <th scope="col">Expires / revoked</th>
                    {canChange && <th scope="col">Actions</th>}
                  </tr>
                </thead>
                <tbody>
                  {items.map((accessKey) => (
                    <tr key={accessKey.key_id}>
                      <td>
                        <code>{accessKey.prefix}…</code>
                      </td>
                      <td>
                        <KeyStatusBadge status={accessKey.status} />
                      </td>
                      <td>
                        <Time iso={accessKey.created_at} />
                      </td>
                      <td>{accessKey.last_used_at ? <Time iso={accessKey.last_used_at} /> : <span className="muted">Never</span>}</td>
                      <td>
                        <KeyEnd accessKey={accessKey} />
                      </td>
                      {canChange && (
                        <td>
                          {accessKey.status === "active" && (
                            <div className="actions" style={{ marginTop: 0 }}>
                              <RotateButton accessKey={accessKey} onRotate={(body) => rotate(accessKey, body)} />
                              <ConfirmButton
                                label="Revoke"
                                confirmLabel="Revoke key"
                                title={`Revoke key ${accessKey.prefix}…?`}
                                onConfirm={() => revoke(accessKey)}
                              >
                                <p>Requests with this key are refused within 30 seconds. This cannot be undone: issue a new key if the developer still needs one.</p>
                              </ConfirmButton>
                            </div>
                          )}
                        </td>
                      )}
                    </tr>
                  ))}
                </tbody>
              </table>
            </TableWrap>
          )
        }
      </Loaded>
    </section>
  );
}

function KeyEnd({ accessKey }: { accessKey: AccessKey }) {
  if (accessKey.revoked_at) {
    return (
      <>
        Revoked <Time iso={accessKey.revoked_at} />
      </>
    );
  }
  if (accessKey.expires_at) {
    return (
      <>
        {accessKey.status === "expired" ? "Expired" : "Expires"} <Time iso={accessKey.expires_at} />
      </>
    );
  }
  return <span className="muted">Never expires</span>;
}

/** Rotation asks how long the old key may overlap with the new one (the grace period) before confirming. */
function RotateButton({ accessKey, onRotate }: { accessKey: AccessKey; onRotate(body: RotateKey): Promise<void> }) {
  const [grace, setGrace] = useState("");
  const [expiry, setExpiry] = useState("");

  function confirm() {
    const body: RotateKey = {};
    if (grace !== "") body.grace_seconds = Number(grace);
    if (expiry !== "") body.expires_in_days = Number(expiry);
    return onRotate(body);
  }

  return (
    <ConfirmButton label="Rotate" confirmLabel="Rotate key" danger={false} title={`Rotate key ${accessKey.prefix}…?`} onConfirm={confirm}>
      <p>
        A new key is issued and shown once. The old key keeps working for a grace period, so the developer can paste the new line without being cut
        off; then it stops.
      </p>
      <SelectField label="The old key keeps working for" value={grace} onChange={(event) => setGrace(event.target.value)}>
        {GRACE_OPTIONS.map(([value, label]) => (
          <option key={value} value={value}>
            {label}
          </option>
        ))}
      </SelectField>
      <ExpirySelect label="New key expires after" value={expiry} onChange={setExpiry} />
    </ConfirmButton>
  );
}

/** The new key, once: the line to paste, a copy button, and what to do with it. */
function IssuedKeyPanel({ issued, onDone }: { issued: IssuedKey; onDone(): void }) {
  const headingId = useId();
  const heading = useRef<HTMLHeadingElement>(null);
  // Screen readers and keyboard users land on the news, not somewhere below it.
  useEffect(() => heading.current?.focus(), []);

  return (
    <div className="banner-ok" role="region" aria-labelledby={headingId} style={{ marginBottom: "1rem" }}>
      <h3 id={headingId} ref={heading} tabIndex={-1} style={{ marginTop: 0 }}>
        New key — copy it now, it is shown only once
      </h3>
      {issued.export_line ? (
        <>
          <pre className="secret" data-testid="issued-export">
            {issued.export_line}
          </pre>
          <div className="actions">
            <CopyButton text={issued.export_line} label="Copy" />
          </div>
          <p>
            The developer pastes this line into their shell (or shell profile) and runs <code>claude</code> as usual: Claude Code then goes through
            Overspill, still signed in with their own plan.
          </p>
        </>
      ) : issued.key ? (
        <>
          <pre className="secret" data-testid="issued-key">
            {issued.key}
          </pre>
          <div className="actions">
            <CopyButton text={issued.key} label="Copy" />
          </div>
          <p>
            This gateway has no public URL configured, so there is no ready line: the developer sets <code>ANTHROPIC_BASE_URL</code> to the gateway's URL
            followed by <code>/ak/</code> and this key, then runs <code>claude</code> as usual.
          </p>
        </>
      ) : (
        <p>
          This key ({issued.prefix}…) was issued by an earlier attempt, and a key is never shown twice. If it did not reach the developer, revoke it and
          issue another.
        </p>
      )}
      {issued.expires_at && (
        <p>
          It expires <Time iso={issued.expires_at} />.
        </p>
      )}
      {issued.previous && (
        <p>
          The previous key <code>{issued.previous.prefix}…</code>{" "}
          {issued.previous.status === "active" && issued.previous.expires_at ? (
            <>
              keeps working until <Time iso={issued.previous.expires_at} />.
            </>
          ) : (
            "no longer works."
          )}
        </p>
      )}
      <div className="actions">
        <button type="button" className="primary" onClick={onDone}>
          Done
        </button>
      </div>
    </div>
  );
}
