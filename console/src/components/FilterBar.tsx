// The filters of a list, kept in the URL: selects apply at once, text and date fields on Apply (or
// Enter), so typing does not fire a query per keystroke. Changing a filter closes the open row.
import { useEffect, useState } from 'react';

export interface FilterField {
  name: string;
  label: string;
  kind: 'select' | 'text' | 'date' | 'search';
  options?: Array<{ value: string; label: string }>;
  placeholder?: string;
  /** Widens a text field (the search box). */
  wide?: boolean;
}

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
                type={field.kind === 'date' ? 'date' : field.kind === 'search' ? 'search' : 'text'}
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
          <button type="button" className="button-quiet" onClick={() => onApply(Object.fromEntries(fields.map((f) => [f.name, ''])))}>
            Clear filters
          </button>
        )}
      </div>
    </form>
  );
}
