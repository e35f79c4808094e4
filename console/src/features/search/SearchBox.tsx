// Search anywhere (issue 22): the top bar's box. "/" or Ctrl-K (⌘K) focuses it from anywhere but a
// field; Enter asks search(query), and one match goes straight to its page (an order, a customer, a
// dispute…), while none or several open the search page listing them.
import { useQueryClient } from '@tanstack/react-query';
import { type FormEvent, useEffect, useId, useRef, useState } from 'react';
import { useNavigate } from 'react-router';
import { searchQuery } from './queries';
import { searchUrl } from './urls';
import './search.css';

/** A key press typed into a field is the field's, not a shortcut. */
function isTyping(target: EventTarget | null): boolean {
  if (!(target instanceof HTMLElement)) return false;
  return target.isContentEditable || ['INPUT', 'TEXTAREA', 'SELECT'].includes(target.tagName);
}

export function SearchBox() {
  const inputId = useId();
  const hintId = useId();
  const input = useRef<HTMLInputElement>(null);
  const [text, setText] = useState('');
  const [pending, setPending] = useState(false);
  const navigate = useNavigate();
  const queryClient = useQueryClient();

  useEffect(() => {
    const onKey = (event: KeyboardEvent) => {
      const ctrlK = (event.ctrlKey || event.metaKey) && event.key.toLowerCase() === 'k';
      const slash = event.key === '/' && !event.ctrlKey && !event.metaKey && !event.altKey && !isTyping(event.target);
      if (!ctrlK && !slash) return;
      event.preventDefault();
      input.current?.focus();
      input.current?.select();
    };
    document.addEventListener('keydown', onKey);
    return () => document.removeEventListener('keydown', onKey);
  }, []);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const query = text.trim();
    if (!query || pending) return;
    setPending(true);
    try {
      const result = await queryClient.fetchQuery(searchQuery(query));
      const only = result.matches.length === 1 ? result.matches[0] : undefined;
      navigate(only ? only.route : searchUrl(query));
    } catch {
      // The search page says what went wrong (bad input in words, or a retry).
      navigate(searchUrl(query));
    } finally {
      setPending(false);
    }
  };

  return (
    // The field's name leaves out "search": the list screens' own Search fields keep theirs to themselves.
    <form role="search" aria-label="Search anywhere" className="search-box" onSubmit={(event) => void submit(event)}>
      <label htmlFor={inputId} className="visually-hidden">
        Find by order id, email or Stripe id
      </label>
      <input
        ref={input}
        id={inputId}
        type="search"
        value={text}
        onChange={(event) => setText(event.target.value)}
        placeholder="Search: order id, email, pi_…, evt_…"
        aria-describedby={hintId}
        autoComplete="off"
        spellCheck={false}
        maxLength={500}
      />
      <span id={hintId} className="visually-hidden">
        Press slash or Control K to come here. Enter opens the page of what you typed, or lists the matches.
      </span>
      <button type="submit" className="search-button" disabled={pending} aria-label={pending ? 'Finding' : 'Find'}>
        {pending ? '…' : '⌕'}
      </button>
    </form>
  );
}
