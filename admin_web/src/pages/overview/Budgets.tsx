/** This month's budgets: who is close to (or past) theirs first, each with a meter of spent against budget. */
import { Link } from "react-router";
import type { BudgetsView, TeamBudgetView, UserBudgetView } from "../../api/usage";
import { useIsAdmin } from "../../app/context";
import { NumbersTable, type Column } from "../../components/ChartFigure";
import { Empty } from "../../components/States";
import { formatMoney, formatPercent } from "../../lib/format";

/** "2026-11" → "November 2026". */
export function monthName(month: string): string {
  const [year, monthNumber] = month.split("-").map(Number);
  return new Date(Date.UTC(year, monthNumber - 1, 1)).toLocaleDateString(undefined, { month: "long", year: "numeric", timeZone: "UTC" });
}

export function meterClass(percentUsed: number): string {
  if (percentUsed >= 100) return "meter over";
  if (percentUsed >= 80) return "meter warn";
  return "meter";
}

function BudgetMeter({ budget, name }: { budget: UserBudgetView | TeamBudgetView; name: string }) {
  const used = formatPercent(budget.percent_used / 100);
  return (
    <div style={{ display: "flex", alignItems: "center", gap: "0.5rem", minWidth: "10rem" }}>
      <div
        className={meterClass(budget.percent_used)}
        role="meter"
        aria-label={`Budget used by ${name}`}
        aria-valuemin={0}
        aria-valuemax={100}
        aria-valuenow={Math.min(100, Math.max(0, budget.percent_used))}
        aria-valuetext={`${used} of ${formatMoney(budget.budget_usd)}`}
        style={{ flex: 1 }}
      >
        <span style={{ width: `${Math.min(100, Math.max(0, budget.percent_used))}%` }} />
      </div>
      <span className="num" style={{ minWidth: "3.5rem", textAlign: "right" }}>
        {used}
      </span>
    </div>
  );
}

function Exhausted({ budget }: { budget: { exhausted: boolean } }) {
  return budget.exhausted ? (
    <>
      {" "}
      <span className="badge danger" title="The spend reached the budget: Bedrock is refused until next month">
        Bedrock refused
      </span>
    </>
  ) : null;
}

const MONEY_COLUMNS: Column[] = [
  { header: "Used" },
  { header: "Spent", numeric: true },
  { header: "Budget", numeric: true },
  { header: "Left", numeric: true },
];

function byShareUsed<T extends { percent_used: number }>(budgets: T[]): T[] {
  return [...budgets].sort((a, b) => b.percent_used - a.percent_used);
}

function moneyCells(budget: UserBudgetView | TeamBudgetView, name: string) {
  return [<BudgetMeter budget={budget} name={name} />, formatMoney(budget.spent_usd), formatMoney(budget.budget_usd), formatMoney(budget.remaining_usd)];
}

export function Budgets({ view }: { view: BudgetsView }) {
  const isAdmin = useIsAdmin();
  const users = byShareUsed(view.users);
  const teams = byShareUsed(view.teams);
  const counted = view.counts === "bedrock" ? "Budgets count Bedrock spend only." : "Budgets count all traffic, plan traffic at the API list price.";

  return (
    <>
      <p>
        <strong>{monthName(view.month)} (UTC)</strong>: {formatMoney(view.spent_usd)} spent as budgets count
        {view.counts === "bedrock" && <> ({formatMoney(view.cost_usd)} on every route)</>}. <span className="muted">{counted}</span>
      </p>
      {users.length === 0 && teams.length === 0 ? (
        <Empty>
          <p>No user or team has a monthly budget. Admins set budgets on a user's page or for a team; they appear here with what has been spent.</p>
        </Empty>
      ) : (
        <div style={{ display: "grid", gap: "1rem" }}>
          {users.length > 0 ? (
            <NumbersTable
              caption="User budgets"
              columns={[{ header: "User" }, { header: "Team" }, ...MONEY_COLUMNS]}
              rows={users.map((user) => ({
                key: user.user_id,
                cells: [
                  <>
                    {isAdmin ? <Link to={`/users/${encodeURIComponent(user.user_id)}`}>{user.name}</Link> : user.name}
                    {user.status !== "active" && (
                      <>
                        {" "}
                        <span className="badge muted">{user.status}</span>
                      </>
                    )}
                    <Exhausted budget={user} />
                  </>,
                  user.team ?? <span className="muted">No team</span>,
                  ...moneyCells(user, user.name),
                ],
              }))}
            />
          ) : (
            <p className="muted">No user has a budget of their own.</p>
          )}
          {teams.length > 0 ? (
            <NumbersTable
              caption="Team budgets"
              columns={[{ header: "Team" }, ...MONEY_COLUMNS]}
              rows={teams.map((team) => ({
                key: team.team,
                cells: [
                  <>
                    {team.team}
                    <Exhausted budget={team} />
                  </>,
                  ...moneyCells(team, team.team),
                ],
              }))}
            />
          ) : (
            <p className="muted">No team has a budget.</p>
          )}
        </div>
      )}
    </>
  );
}
