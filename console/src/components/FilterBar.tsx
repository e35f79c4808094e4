// The filters of a list, kept in the URL: menus and a date range's presets apply at once, text and
// date fields on Apply (or Enter), so typing does not fire a query per keystroke. Changing a filter
// closes the open row.
import { useEffect, useState } from 'react';
import { humanize } from '../lib/format';

export interface FilterField {
  /** The URL parameter; for a date range, the first day's (`toName` is the last day's). */
  name: string;
  label: string;
  kind: 'select' | 'text' | 'search' | 'dateRange';
  options?: Array<{ value: string; label: string }>;
  placeholder?: string;
  /** Widens a text field (the search box). */
  wide?: boolean;
  /** A date range's last day (inclusive), as its own URL parameter. */
  toName?: string;
}

/** A menu's choices from one of the schema's enums (api/generated/enums.ts), in the schema's order. */
export function enumOptions<V extends string>(values: readonly V[], label: (value: V) => string = humanize): Array<{ value: V; label: string }> {
  return values.map((value) => ({ value, label: label(value) }));
}

/** The URL parameters a field sets: a date range has two. */
function fieldNames(field: FilterField): string[] {
  return field.kind === 'dateRange' && field.toName ? [field.name, field.toName] : [field.name];
}

/** A UTC day (YYYY-MM-DD) `daysAgo` days before today: the date range's presets. */
export function utcDay(daysAgo: number, now: Date = new Date()): string {
  const day = new Date(now.getTime() - daysAgo * 86_400_000);
  return day.toISOString().slice(0, 10);
}

const RANGE_PRESETS = [
  { label: 'Today', days: 0 },
  { label: 'Last 7 days', days: 6 },
  { label: 'Last 30 days', days: 29 },
];

export function FilterBar({
  fields,
  values,
  onApply,
}: {
  fields: FilterField[];
  values: Record<string, string>;
  onApply: (values: Record<string, string>) => void;
}) {
  const [draft, setDraft] = useState(values);
  // When the URL changes (back/forward, a link), the inputs show what it now says. Updating state
  // rather than re-mounting keeps the keyboard focus where it was after Enter.
  const fromUrl = JSON.stringify(values);
  useEffect(() => setDraft(JSON.parse(fromUrl) as Record<string, string>), [fromUrl]);
  const anySet = Object.values(values).some(Boolean);
  return (
    <form
      className="filters"
      role="search"
      onSubmit={(event) => {
        event.preventDefault();
        onApply(Object.fromEntries(Object.entries(draft).map(([k, v]) => [k, v.trim()])));
      }}
    >
      {fields.map((field) => {
        const id = `filter-${field.name}`;
        const value = draft[field.name] ?? '';
        if (field.kind === 'dateRange') {
          const toName = field.toName ?? `${field.name}To`;
          return (
            <fieldset key={field.name} className="filter filter-range">
              <legend>{field.label}</legend>
              <div className="range-inputs">
                <label>
                  <span className="visually-hidden">{field.label}: </span>From
                  <input type="date" value={value} max={draft[toName] || undefined} onChange={(event) => setDraft({ ...draft, [field.name]: event.target.value })} />
                </label>
                <label>
                  <span className="visually-hidden">{field.label}: </span>To
                  <input type="date" value={draft[toName] ?? ''} min={value || undefined} onChange={(event) => setDraft({ ...draft, [toName]: event.target.value })} />
                </label>
              </div>
              <div className="range-presets">
                {RANGE_PRESETS.map((preset) => (
                  <button
                    key={preset.label}
                    type="button"
                    className="button-chip"
                    onClick={() => {
                      const next = { ...draft, [field.name]: utcDay(preset.days), [toName]: utcDay(0) };
                      setDraft(next);
                      onApply(next);
                    }}
                  >
                    {preset.label}
                  </button>
                ))}
              </div>
            </fieldset>
          );
        }
        return (
          <div key={field.name} className={`filter${field.wide ? ' filter-wide' : ''}`}>
            <label htmlFor={id}>{field.label}</label>
            {field.kind === 'select' ? (
              <select
                id={id}
                value={value}
                onChange={(event) => {
                  const next = { ...draft, [field.name]: event.target.value };
                  setDraft(next);
                  onApply(next);
                }}
              >
                <option value="">Any</option>
                {field.options?.map((option) => (
                  <option key={option.value} value={option.value}>
                    {option.label}
                  </option>
                ))}
              </select>
            ) : (
              <input
                id={id}
                type={field.kind === 'search' ? 'search' : 'text'}
                value={value}
                placeholder={field.placeholder}
                spellCheck={false}
                autoComplete="off"
                onChange={(event) => setDraft({ ...draft, [field.name]: event.target.value })}
              />
            )}
          </div>
        );
      })}
      <div className="filter-buttons">
        <button type="submit">Apply</button>
        {anySet && (
          <button type="button" className="button-quiet" onClick={() => onApply(Object.fromEntries(fields.flatMap(fieldNames).map((name) => [name, ''])))}>
            Clear filters
          </button>
        )}
      </div>
    </form>
  );
}
