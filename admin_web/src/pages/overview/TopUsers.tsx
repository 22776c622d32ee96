/** Who cost the most in the range: a bar per user and the table behind it (names link to the user for admins). */
import type { ChartData } from "chart.js";
import { useMemo } from "react";
import { Link } from "react-router";
import type { TopUser, TopUsersView } from "../../api/usage";
import { useIsAdmin } from "../../app/context";
import { Chart, PALETTE } from "../../components/Chart";
import { barOptions, ChartTitle, NumbersTable } from "../../components/ChartFigure";
import { Empty } from "../../components/States";
import { formatCount, formatMoney, formatPercent } from "../../lib/format";

const LABEL = "Top users by cost";
const OPTIONS = barOptions({ horizontal: true, format: (value) => formatMoney(value), legend: false });

/** A user no longer in the users table still has usage: shown by id. */
export function userLabel(user: { user_id: string; name: string | null }): string {
  return user.name ?? user.user_id;
}

function UserName({ user }: { user: TopUser }) {
  const isAdmin = useIsAdmin();
  const label = userLabel(user);
  // Finance has no user pages: plain text, not a link that would only say "not allowed".
  if (!isAdmin) return <>{label}</>;
  return <Link to={`/users/${encodeURIComponent(user.user_id)}`}>{label}</Link>;
}

export function TopUsers({ view }: { view: TopUsersView }) {
  const { users } = view;
  const data = useMemo<ChartData<"bar">>(
    () => ({
      labels: users.map(userLabel),
      datasets: [{ label: "Cost", data: users.map((user) => Number(user.cost_usd)), backgroundColor: PALETTE[0] }],
    }),
    [users],
  );

  if (users.length === 0) {
    return (
      <Empty>
        <p>No one used Overspill in this range. Choose a longer range to look further back.</p>
      </Empty>
    );
  }

  return (
    <figure style={{ margin: 0 }}>
      <ChartTitle label={LABEL} />
      <Chart type="bar" data={data} options={OPTIONS} label={LABEL} height={Math.max(160, users.length * 34)} />
      <NumbersTable
        caption={LABEL}
        columns={[
          { header: "User" },
          { header: "Team" },
          { header: "Requests", numeric: true },
          { header: "Tokens", numeric: true },
          { header: "Cost", numeric: true },
          { header: "Bedrock share", numeric: true },
        ]}
        rows={users.map((user) => ({
          key: user.user_id,
          cells: [
            <UserName user={user} />,
            user.team ?? <span className="muted">No team</span>,
            formatCount(user.requests),
            formatCount(user.tokens),
            formatMoney(user.cost_usd),
            formatPercent(user.bedrock_share),
          ],
        }))}
      />
    </figure>
  );
}
