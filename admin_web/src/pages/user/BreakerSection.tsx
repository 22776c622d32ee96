/** The user's breaker: is Bedrock answering for them now, why, until when; reset it; its recent history. */
import { useApiAction, useApiQuery } from "../../api/hooks";
import { BREAKER_STATES, breakerReasonLabel, getBreaker, resetBreaker } from "../../api/users";
import { ConfirmButton } from "../../components/ConfirmButton";
import { FormError } from "../../components/Field";
import { Loaded } from "../../components/States";
import { TableWrap } from "../../components/TableWrap";
import { Time } from "../../components/Time";
import { formatCount } from "../../lib/format";
import { BreakerBadge } from "./badges";

export function BreakerSection({ userId, canChange }: { userId: string; canChange: boolean }) {
  const breaker = useApiQuery(`breaker:${userId}`, (api) => getBreaker(api, userId));
  const reset = useApiAction((api) => resetBreaker(api, userId));

  async function resetNow() {
    if (await reset.run()) breaker.reload();
  }

  return (
    <section className="panel" aria-labelledby="breaker-heading">
      <h2 id="breaker-heading">Breaker</h2>
      <Loaded query={breaker} loadingLabel="Loading the breaker…">
        {(view) => (
          <>
            <p>
              <BreakerBadge state={view.state} /> <span className="muted">{BREAKER_STATES[view.state]?.description}</span>
            </p>
            <dl className="props">
              <dt>Reason</dt>
              <dd>
                {breakerReasonLabel(view.reason)}
                {view.reason && breakerReasonLabel(view.reason) !== view.reason && (
                  <>
                    {" "}
                    <code className="muted">{view.reason}</code>
                  </>
                )}
              </dd>
              <dt>Last upstream status</dt>
              <dd>{view.last_status ?? "—"}</dd>
              <dt>Open until</dt>
              <dd>
                <Time iso={view.open_until} />
              </dd>
              {view.state === "half_open" && (
                <>
                  <dt>Test request until</dt>
                  <dd>
                    <Time iso={view.probe_until} />
                  </dd>
                </>
              )}
              <dt>Trips</dt>
              <dd>{formatCount(view.trips)}</dd>
              <dt>Last change</dt>
              <dd>{view.updated_at ? <Time iso={view.updated_at} /> : "Never"}</dd>
            </dl>
            {canChange && view.state !== "closed" && (
              <div className="actions">
                <ConfirmButton label="Reset breaker" title="Reset the breaker?" danger={false} onConfirm={resetNow}>
                  <p>
                    The plan is tried again for this user's next request (every proxy instance follows within 30 seconds). If the plan is still limited, the
                    breaker opens again.
                  </p>
                </ConfirmButton>
              </div>
            )}
            <FormError error={reset.error} fields={[]} />
            {view.history.length === 0 ? (
              <p className="muted">No transitions yet: the breaker has never opened for this user.</p>
            ) : (
              <TableWrap label="Last transitions">
                <table>
                  <caption>Last transitions</caption>
                  <thead>
                    <tr>
                      <th scope="col">When</th>
                      <th scope="col">State entered</th>
                      <th scope="col">Reason</th>
                      <th scope="col" className="num">
                        Status
                      </th>
                      <th scope="col">Open until</th>
                    </tr>
                  </thead>
                  <tbody>
                    {view.history.map((transition, index) => (
                      <tr key={`${transition.at}-${index}`}>
                        <td>
                          <Time iso={transition.at} />
                        </td>
                        <td>
                          <BreakerBadge state={transition.state} />
                        </td>
                        <td>{breakerReasonLabel(transition.reason)}</td>
                        <td className="num">{transition.last_status ?? "—"}</td>
                        <td>
                          <Time iso={transition.open_until} />
                        </td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </TableWrap>
            )}
          </>
        )}
      </Loaded>
    </section>
  );
}
