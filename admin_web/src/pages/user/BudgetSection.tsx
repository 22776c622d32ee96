/** The user's monthly budget and what this UTC month has spent against it (as the proxy counts it). */
import { useApiQuery } from "../../api/hooks";
import { fetchBudgets } from "../../api/usage";
import type { User } from "../../api/users";
import { Loaded } from "../../components/States";
import { formatMoney, formatPercent, utcToday } from "../../lib/format";

function monthName(month: string): string {
  const [year, monthNumber] = month.split("-").map(Number);
  return new Date(Date.UTC(year, monthNumber - 1, 1)).toLocaleDateString(undefined, { month: "long", year: "numeric", timeZone: "UTC" });
}

export function BudgetSection({ user }: { user: User }) {
  const month = utcToday().slice(0, 7);
  // Keyed by the version too: a budget changed in Profile is shown against this month's spend at once.
  const budgets = useApiQuery(user.budget_usd === null ? null : `budgets:${month}:${user.user_id}:${user.version}`, (api) => fetchBudgets(api, month));

  return (
    <section className="panel" aria-labelledby="budget-heading">
      <h2 id="budget-heading">Budget</h2>
      {user.budget_usd === null ? (
        <>
          <p>
            <strong>No budget</strong>
          </p>
          <p className="muted">
            This user has no monthly budget of their own (their team's budget, if it has one, still applies). Set one with Edit in Profile.
          </p>
        </>
      ) : (
        <Loaded query={budgets} loadingLabel="Loading this month's spend…">
          {(view) => {
            const line = view.users.find((entry) => entry.user_id === user.user_id);
            const percent = line ? line.percent_used : null;
            const tone = line?.exhausted ? "over" : percent !== null && percent >= 80 ? "warn" : "";
            return (
              <>
                <div className="tiles">
                  <div className="tile">
                    <div className="label">Monthly budget</div>
                    <div className="value">{formatMoney(user.budget_usd)}</div>
                  </div>
                  <div className="tile">
                    <div className="label">Spent in {monthName(view.month)}</div>
                    <div className="value">{line ? formatMoney(line.spent_usd) : "—"}</div>
                  </div>
                  <div className="tile">
                    <div className="label">Remaining</div>
                    <div className="value">{line ? formatMoney(line.remaining_usd) : "—"}</div>
                  </div>
                </div>
                {line ? (
                  <>
                    <div
                      className={`meter ${tone}`.trim()}
                      role="meter"
                      aria-label="Budget used this month"
                      aria-valuemin={0}
                      aria-valuemax={100}
                      aria-valuenow={Math.min(100, line.percent_used)}
                      aria-valuetext={`${formatPercent(line.percent_used / 100)} used`}
                    >
                      <span style={{ width: `${Math.min(100, line.percent_used)}%` }} />
                    </div>
                    <p>
                      {formatPercent(line.percent_used / 100)} used.{" "}
                      {line.exhausted && <strong>The budget is used up: Bedrock is refused for this user until the month ends (UTC).</strong>}
                    </p>
                  </>
                ) : (
                  <p className="muted">This month's spend is not available for this user.</p>
                )}
                <p className="muted">
                  {view.counts === "bedrock"
                    ? "Budgets count Bedrock spend only: requests the plan answers are free here."
                    : "Budgets count all traffic: requests the plan answers count at the API list price."}
                </p>
              </>
            );
          }}
        </Loaded>
      )}
    </section>
  );
}
