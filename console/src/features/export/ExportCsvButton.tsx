// "Export CSV" on a staff list: downloads the list as the server streams it, with the filters shown.
import { useState } from 'react';
import { downloadExport, type ExportList } from './csvExport';
import './export.css';

export function ExportCsvButton({ list, filter, label = 'Export CSV' }: { list: ExportList; filter: Record<string, string | null | undefined> | undefined; label?: string }) {
  const [state, setState] = useState<{ pending: boolean; error: string | null; saved: string | null }>({ pending: false, error: null, saved: null });
  const press = () => {
    setState({ pending: true, error: null, saved: null });
    downloadExport(list, filter).then(
      (saved) => setState({ pending: false, error: null, saved }),
      (error: unknown) => setState({ pending: false, error: error instanceof Error ? error.message : String(error), saved: null }),
    );
  };
  return (
    <div className="action export-csv">
      <button type="button" onClick={press} disabled={state.pending} title="The rows these filters select, every page, as a CSV file">
        {state.pending ? 'Exporting…' : label}
      </button>
      {state.error && (
        <p role="alert" className="action-error error-text">
          Could not export: {state.error}
        </p>
      )}
      {state.saved && (
        <p role="status" className="action-success">
          Saved {state.saved}
        </p>
      )}
    </div>
  );
}
