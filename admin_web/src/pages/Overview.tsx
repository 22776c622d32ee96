/**
 * The daily look at Overspill for admins and finance: what the range cost, how much Bedrock carried and why,
 * who used the most, and how this month's budgets stand.
 */
import type { ReactNode } from "react";
import { ApiError } from "../api/client";
import { useApiQuery, type Loaded as Query } from "../api/hooks";
import { fetchBudgets, fetchFallbackReasons, fetchOverview, fetchTopUsers, type OverviewView } from "../api/usage";
import { DateRangePicker, useDateRange } from "../components/DateRange";
import { Section } from "../components/Section";
import { Empty, ErrorState, Loaded, Loading } from "../components/States";
import { utcToday } from "../lib/format";
import { Budgets } from "./overview/Budgets";
import { FallbackReasons } from "./overview/FallbackReasons";
import { PlanAndBedrock } from "./overview/PlanAndBedrock";
import { RequestsAndCost } from "./overview/RequestsAndCost";
import { Tiles } from "./overview/Tiles";
import { TopUsers } from "./overview/TopUsers";

const TOP_USERS = 10;

/** The API refused the range itself (too long, in the future): every range query would say the same. */
function refusesRange(error: Error | undefined): error is ApiError {
  return error instanceof ApiError && error.status === 422;
}

function NoRequests() {
  return (
    <Empty>
      <p>No requests in this range. Choose a longer range above; if you expected usage, check that developers use their Overspill keys.</p>
    </Empty>
  );
}

/** A section drawn from the overview answer: its error is shown once, with the tiles, not again here. */
function FromOverview({ overview, children }: { overview: Query<OverviewView>; children(view: OverviewView): ReactNode }) {
  if (overview.error) return <p className="muted">Not loaded: see the message above.</p>;
  if (!overview.data) return <Loading />;
  return <>{overview.data.totals.requests === 0 ? <NoRequests /> : children(overview.data)}</>;
}

export default function Overview() {
  const [range, setRange] = useDateRange(30);
  // Nothing is asked while the range is reversed: the picker says why.
  const rangeKey = range.from <= range.to ? `${range.from}/${range.to}` : null;
  const overview = useApiQuery(rangeKey, (api) => fetchOverview(api, range));
  const reasons = useApiQuery(rangeKey, (api) => fetchFallbackReasons(api, range));
  const topUsers = useApiQuery(rangeKey, (api) => fetchTopUsers(api, range, { orderBy: "cost", limit: TOP_USERS }));
  // Budgets are monthly (UTC), whatever the range.
  const month = utcToday().slice(0, 7);
  const budgets = useApiQuery(`budgets/${month}`, (api) => fetchBudgets(api, month));

  function retryRange() {
    overview.reload();
    reasons.reload();
    topUsers.reload();
  }

  let rangeContent: ReactNode;
  if (rangeKey === null) {
    rangeContent = (
      <Empty>
        <p>Choose a start day on or before the end day to see usage.</p>
      </Empty>
    );
  } else if (refusesRange(overview.error)) {
    rangeContent = <ErrorState error={overview.error} onRetry={retryRange} />;
  } else {
    rangeContent = (
      <>
        <Loaded query={overview}>{(view) => <Tiles overview={view} reasons={reasons.data} />}</Loaded>
        <Section title="Requests and cost" busy={overview.loading}>
          <FromOverview overview={overview}>{(view) => <RequestsAndCost overview={view} />}</FromOverview>
        </Section>
        <Section title="Plan and Bedrock" busy={overview.loading}>
          <FromOverview overview={overview}>{(view) => <PlanAndBedrock overview={view} />}</FromOverview>
        </Section>
        <Section title="Fallback reasons" busy={reasons.loading}>
          <Loaded query={reasons}>{(view) => <FallbackReasons view={view} />}</Loaded>
        </Section>
        <Section title="Top users" busy={topUsers.loading}>
          <Loaded query={topUsers}>{(view) => <TopUsers view={view} />}</Loaded>
        </Section>
      </>
    );
  }

  return (
    <>
      <div className="page-header">
        <h1>Overview</h1>
        <DateRangePicker value={range} onChange={setRange} />
      </div>
      {rangeContent}
      <Section title="Budgets this month" busy={budgets.loading}>
        <Loaded query={budgets}>{(view) => <Budgets view={view} />}</Loaded>
      </Section>
    </>
  );
}
