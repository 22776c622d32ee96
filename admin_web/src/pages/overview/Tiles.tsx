/** The range's headline numbers, each a labelled group so its value can be found by its name. */
import { useId, type ReactNode } from "react";
import type { FallbackReasonsView, OverviewView } from "../../api/usage";
import { formatCompact, formatCount, formatMoney, formatPercent } from "../../lib/format";

function Tile({ label, value, title, note }: { label: string; value: string; title?: string; note?: ReactNode }) {
  const labelId = useId();
  return (
    <div className="tile" role="group" aria-labelledby={labelId}>
      <div className="label" id={labelId}>
        {label}
      </div>
      <div className="value" title={title}>
        {value}
      </div>
      {note && (
        <div className="muted" style={{ fontSize: "0.85rem" }}>
          {note}
        </div>
      )}
    </div>
  );
}

export function share(part: number, whole: number): number | null {
  return whole > 0 ? part / whole : null;
}

/**
 * Of the requests meant for the plan, the share Bedrock answered instead. Users routed to Bedrock only are left
 * out on both sides: their requests go to Bedrock by choice, not as fallbacks (the API's `fallback_rate` counts
 * every Bedrock request, the same as the Bedrock share tile).
 */
export function fallbackRate(overview: OverviewView, reasons: FallbackReasonsView): number | null {
  const byChoice = reasons.reasons.find((reason) => reason.reason === "bedrock_only")?.totals.requests ?? 0;
  return share(reasons.requests - byChoice, overview.totals.requests - byChoice);
}

function FallbackRate({ overview, reasons }: { overview: OverviewView; reasons?: FallbackReasonsView }) {
  if (!reasons) return <Tile label="Fallback rate" value="—" note="Loading the fallback reasons…" />;
  const byChoice = reasons.reasons.find((reason) => reason.reason === "bedrock_only")?.totals.requests ?? 0;
  return (
    <Tile
      label="Fallback rate"
      value={formatPercent(fallbackRate(overview, reasons))}
      note={`Plan requests that Bedrock answered${byChoice > 0 ? `; ${formatCount(byChoice)} Bedrock-only requests left out` : ""}`}
    />
  );
}

export function Tiles({ overview, reasons }: { overview: OverviewView; reasons?: FallbackReasonsView }) {
  const { totals, by_route: byRoute } = overview;
  return (
    <div className="tiles">
      <Tile
        label="Spend"
        value={formatMoney(totals.cost_usd)}
        note={
          <>
            Bedrock {formatMoney(byRoute.bedrock.cost_usd)}; plan at list price {formatMoney(byRoute.plan.cost_usd)}
            {totals.unpriced_requests > 0 && <>; {formatCount(totals.unpriced_requests)} unpriced requests not included</>}
          </>
        }
      />
      <Tile
        label="Requests"
        value={formatCount(totals.requests)}
        note={totals.errors > 0 ? `${formatCount(totals.errors)} answered with an error` : undefined}
      />
      <Tile label="Tokens" value={formatCompact(totals.tokens)} title={`${formatCount(totals.tokens)} tokens`} />
      <Tile
        label="Bedrock share of requests"
        value={formatPercent(share(byRoute.bedrock.requests, totals.requests))}
        note={totals.requests > 0 ? `${formatCount(byRoute.bedrock.requests)} of ${formatCount(totals.requests)}` : undefined}
      />
      <FallbackRate overview={overview} reasons={reasons} />
    </div>
  );
}
