/**
 * Usage grouped by user, team, model or route for a range: what finance would otherwise rebuild in a spreadsheet,
 * with the table downloadable as exactly that spreadsheet. Range, grouping, measure and team filter live in the
 * URL, so a link shows a colleague the same numbers.
 */
import { useEffect, useState, type FormEvent } from "react";
import { useSearchParams } from "react-router";
import { useApiQuery } from "../api/hooks";
import { fetchSeries, type SeriesView } from "../api/usage";
import { DateRangePicker, useDateRange } from "../components/DateRange";
import { Field, fieldError, SelectField } from "../components/Field";
import { Section } from "../components/Section";
import { Empty, Loaded } from "../components/States";
import { downloadCsv, toCsv } from "../lib/csv";
import { csvFilename, csvTable, GROUPS, MEASURES, parseGroupBy, parseMeasure, type Measure } from "./usage/model";
import { UsageChart } from "./usage/UsageChart";
import { UsageTable } from "./usage/UsageTable";

function NoUsage({ team }: { team: string }) {
  return (
    <Empty>
      {team ? (
        <p>
          No usage by team “{team}” in this range. Team names must match exactly, capitals included; clear the team filter
          to see everyone, or choose a longer range.
        </p>
      ) : (
        <p>No usage in this range. Choose a longer range above.</p>
      )}
    </Empty>
  );
}

function Results({ view, measure, onMeasure, team }: { view: SeriesView; measure: Measure; onMeasure(measure: Measure): void; team: string }) {
  if (view.groups.length === 0) return <NoUsage team={team} />;
  return (
    <>
      <Section
        title="Per day"
        actions={
          <SelectField label="Measure" value={measure} onChange={(event) => onMeasure(event.target.value as Measure)}>
            {MEASURES.map((entry) => (
              <option key={entry.value} value={entry.value}>
                {entry.label}
              </option>
            ))}
          </SelectField>
        }
      >
        <UsageChart view={view} measure={measure} />
      </Section>
      <Section
        title="Totals"
        actions={
          // The file is built from the answer on screen, so it matches the table even while a newer one loads.
          <button type="button" onClick={() => downloadCsv(csvFilename(view), toCsv(csvTable(view)))}>
            Download CSV
          </button>
        }
      >
        <UsageTable view={view} />
      </Section>
    </>
  );
}

export default function Usage() {
  const [range, setRange] = useDateRange(30);
  const [params, setParams] = useSearchParams();
  const groupBy = parseGroupBy(params.get("group_by"));
  const measure = parseMeasure(params.get("measure"));
  const team = params.get("team")?.trim() ?? "";
  const [teamDraft, setTeamDraft] = useState(team);
  // Back/forward or a pasted link changes the filter under the input: show what is applied.
  useEffect(() => setTeamDraft(team), [team]);

  function setParam(name: string, value: string) {
    const updated = new URLSearchParams(params);
    if (value) updated.set(name, value);
    else updated.delete(name);
    setParams(updated, { replace: true });
  }

  // Nothing is asked while the range is reversed: the picker says why.
  const key = range.from <= range.to ? JSON.stringify([range.from, range.to, groupBy, team]) : null;
  const series = useApiQuery(key, (api) => fetchSeries(api, range, { groupBy, team: team || undefined }));
  const teamError = fieldError(series.error, "team");

  function applyTeam(event: FormEvent) {
    event.preventDefault();
    setParam("team", teamDraft.trim());
  }

  let content;
  if (key === null) {
    content = (
      <Empty>
        <p>Choose a start day on or before the end day to see usage.</p>
      </Empty>
    );
  } else if (teamError) {
    content = (
      <Empty>
        <p>Correct the team filter above to see usage.</p>
      </Empty>
    );
  } else {
    content = (
      <div aria-busy={series.loading || undefined}>
        <Loaded query={series}>{(view) => <Results view={view} measure={measure} onMeasure={(value) => setParam("measure", value)} team={team} />}</Loaded>
      </div>
    );
  }

  return (
    <>
      <div className="page-header">
        <h1>Usage</h1>
        <DateRangePicker value={range} onChange={setRange} />
      </div>
      <div className="filters">
        <SelectField label="Group by" value={groupBy} onChange={(event) => setParam("group_by", event.target.value)}>
          {GROUPS.map((group) => (
            <option key={group.value} value={group.value}>
              {group.label}
            </option>
          ))}
        </SelectField>
        <form className="filters" style={{ margin: 0 }} onSubmit={applyTeam} role="search" aria-label="Team filter">
          <Field
            label="Team"
            value={teamDraft}
            onChange={(event) => setTeamDraft(event.target.value)}
            maxLength={64}
            placeholder="All teams"
            hint="Only usage made as a member of this team"
            error={teamError}
          />
          <button type="submit">Apply</button>
          {team && (
            <button type="button" onClick={() => setParam("team", "")}>
              Clear team
            </button>
          )}
        </form>
      </div>
      {content}
    </>
  );
}
