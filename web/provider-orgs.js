// The provider console's organization list (/provider/orgs): search, filters, sorts, paging, and
// creating an organization.
import { get, post, query } from './api.js';
import { debounce, errorBox, h, label, rerender, toast } from './dom.js';
import {
  fieldError, providerBreadcrumb, REASONS, refusal, subscriptionText, tokenStatusText, usageCell,
} from './provider-common.js';

const PAGE_SIZES = [25, 50, 100];

// The organization list's filters (GET /api/v1/provider/orgs?filter=) and sorts.
const FILTERS = [
  ['all', 'All organizations'],
  ['enabled', 'Token enabled'],
  ['disabled', 'Token disabled (any reason)'],
  ['providerDisabled', 'Disabled by the provider'],
  ['expired', 'Subscription expired'],
  ['noSubscription', 'No subscription'],
  ['expiring', 'Subscription ends within 14 days'],
  ['over80', 'Usage today at 80% or more'],
  ['nearThreshold', 'Near the disable threshold today'],
  ['noToken', 'No token'],
];
const SORTS = [
  ['name', 'Name (A\u2013Z)'],
  ['-name', 'Name (Z\u2013A)'],
  ['-usage', 'Usage today (most first)'],
  ['usage', 'Usage today (least first)'],
  ['endsAt', 'Subscription end (soonest first)'],
  ['id', 'Oldest first'],
  ['-id', 'Newest first'],
];

// Organizations list with debounced search and paging.
export async function renderOrgList(ctx) {
  const { main, search } = ctx;
  const pick = (list, v, dflt) => (list.some(([k]) => k === v) ? v : dflt);
  const st = {
    search: search.get('search') || '',
    filter: pick(FILTERS, search.get('filter'), 'all'),
    reason: REASONS.includes(search.get('reason')) ? search.get('reason') : '',
    sort: pick(SORTS, search.get('sort'), 'name'),
    page: Math.max(1, Number.parseInt(search.get('page') || '1', 10) || 1),
    pageSize: PAGE_SIZES.includes(Number(search.get('pageSize'))) ? Number(search.get('pageSize')) : 25,
    seq: 0,
  };
  const searchInput = h('input', { id: 'org-search', type: 'search', value: st.search, autocomplete: 'off', placeholder: 'Part of the name' });
  const filterSelect = h('select', { id: 'org-filter' }, FILTERS.map(([k, t]) => h('option', { value: k, selected: k === st.filter }, t)));
  const reasonSelect = h('select', { id: 'org-reason' },
    h('option', { value: '', selected: !st.reason }, 'Any reason'),
    REASONS.map((k) => h('option', { value: k, selected: k === st.reason }, label('reason', k))));
  const reasonField = h('div', { class: 'field' }, h('label', { for: 'org-reason' }, 'Disable reason'), reasonSelect);
  const sortSelect = h('select', { id: 'org-sort' }, SORTS.map(([k, t]) => h('option', { value: k, selected: k === st.sort }, t)));
  const sizeSelect = h('select', { id: 'org-page-size' }, PAGE_SIZES.map((n) => h('option', { value: String(n), selected: n === st.pageSize }, String(n))));
  const showReason = () => { reasonField.hidden = filterSelect.value !== 'providerDisabled'; };
  showReason();
  const results = h('div', { class: 'results', 'aria-live': 'polite', 'aria-busy': 'true' });
  const createName = h('input', { id: 'new-org-name', type: 'text', required: true, maxlength: '200', autocomplete: 'off', 'aria-describedby': 'new-org-name-msg' });
  const createMsg = h('p', { id: 'new-org-name-msg', class: 'field-error', 'aria-live': 'polite' });
  const createForm = h('form', { class: 'inline-form', novalidate: true },
    h('div', { class: 'field grow' }, h('label', { for: 'new-org-name' }, 'New organization name'), createName, createMsg),
    h('button', { type: 'submit', class: 'btn' }, 'Create organization'));
  createForm.addEventListener('submit', async (e) => {
    e.preventDefault();
    fieldError(createName, createMsg, null);
    if (!createName.value.trim()) {
      fieldError(createName, createMsg, 'Enter a name for the new organization.');
      createName.focus();
      return;
    }
    try {
      const org = await post('/api/v1/provider/orgs', { name: createName.value.trim() });
      history.pushState(null, '', `/provider/orgs/${org.id}`);
      window.dispatchEvent(new PopStateEvent('popstate'));
      toast(`The organization ${org.name} was created.`);
    } catch (err) {
      if (!err.handled) {
        fieldError(createName, createMsg, err.message);
        createName.focus();
      }
    }
  });

  main.append(
    providerBreadcrumb([['Provider console', '/provider'], ['Organizations', null]]),
    h('h1', { tabindex: '-1' }, 'Organizations'),
    h('div', { class: 'card' },
      h('form', { class: 'filters', role: 'search', novalidate: true, onsubmit: (e) => { e.preventDefault(); st.page = 1; load(); } },
        h('div', { class: 'field grow' }, h('label', { for: 'org-search' }, 'Search organizations'), searchInput),
        h('div', { class: 'field' }, h('label', { for: 'org-filter' }, 'Show'), filterSelect),
        reasonField,
        h('div', { class: 'field' }, h('label', { for: 'org-sort' }, 'Sort by'), sortSelect),
        h('div', { class: 'field field-narrow' }, h('label', { for: 'org-page-size' }, 'Per page'), sizeSelect)),
      results),
    h('details', { class: 'card create-org' }, h('summary', null, 'Create an organization'), createForm));

  const params = () => ({
    search: st.search,
    filter: st.filter !== 'all' ? st.filter : '',
    reason: st.filter === 'providerDisabled' ? st.reason : '',
    sort: st.sort,
  });
  const syncUrl = () => {
    const q = query({ ...params(), sort: st.sort !== 'name' ? st.sort : '', page: st.page > 1 ? st.page : '', pageSize: st.pageSize !== 25 ? st.pageSize : '' });
    history.replaceState(null, '', '/provider/orgs' + q);
  };

  async function load() {
    const seq = ++st.seq;
    st.search = searchInput.value.trim();
    results.setAttribute('aria-busy', 'true');
    let r;
    try {
      r = await get('/api/v1/provider/orgs' + query({ ...params(), page: st.page, pageSize: st.pageSize }));
    } catch (err) {
      if (err.handled || seq !== st.seq || !ctx.isCurrent()) return;
      if (err.status === 404 || err.status === 403) {
        refusal(ctx, err, 'The provider console');
        return;
      }
      results.removeAttribute('aria-busy');
      rerender(results, () => results.append(errorBox(err)));
      return;
    }
    if (seq !== st.seq || !ctx.isCurrent()) return;
    syncUrl();
    results.removeAttribute('aria-busy');
    const pages = Math.max(1, Math.ceil(r.total / r.pageSize));
    rerender(results, () => {
      if (r.items.length === 0) {
        let text = 'There are no organizations yet.';
        if (st.search) text = `No organization matches \u201c${st.search}\u201d${st.filter !== 'all' ? ' with this filter' : ''}.`;
        else if (st.filter !== 'all') text = 'No organization matches this filter.';
        results.append(h('p', { class: 'empty' }, text));
      } else {
        results.append(h('div', { class: 'table-wrap' },
          h('table', { class: 'data-table', 'aria-label': 'Organizations' },
            h('thead', null, h('tr', null, ['Organization', 'Subscription', 'Token status', 'Usage today', 'Refused over quota today'].map((t) => h('th', { scope: 'col' }, t)))),
            h('tbody', null, r.items.map((o) => h('tr', null,
              h('td', { 'data-label': 'Organization' }, h('span', null, h('a', { href: `/provider/orgs/${o.id}` }, o.name),
                h('span', { class: 'status-reason' }, `ID ${o.id}`))),
              h('td', { 'data-label': 'Subscription' }, subscriptionText(o.subscription, o.endsAt)),
              h('td', { 'data-label': 'Token status' }, o.hasToken ? tokenStatusText(o.tokenStatus, o.statusReason) : h('span', { class: 'muted' }, 'No token')),
              h('td', { 'data-label': 'Usage today' }, usageCell(o.usedToday, o.dailyAllowance)),
              h('td', { 'data-label': 'Refused over quota today' }, `${o.overQuotaToday} / ${o.disableThreshold}`)))))));
      }
      const first = r.total === 0 ? 0 : (r.page - 1) * r.pageSize + 1;
      const last = Math.min(r.total, r.page * r.pageSize);
      results.append(h('nav', { class: 'pager', 'aria-label': 'Pages' },
        h('button', { type: 'button', class: 'btn', disabled: r.page <= 1, 'data-focus-key': 'prev', onclick: () => { st.page -= 1; load(); } }, 'Previous page'),
        h('span', { class: 'pager-info', 'data-testid': 'pager-info' }, `${first}\u2013${last} of ${r.total} \u00b7 page ${r.page} of ${pages}`),
        h('button', { type: 'button', class: 'btn', disabled: r.page >= pages, 'data-focus-key': 'next', onclick: () => { st.page += 1; load(); } }, 'Next page')));
    });
  }

  const debounced = debounce(() => {
    st.page = 1;
    load();
  }, 300);
  searchInput.addEventListener('input', debounced);
  const reload = () => {
    st.filter = filterSelect.value;
    st.reason = reasonSelect.value;
    st.sort = sortSelect.value;
    st.pageSize = Number(sizeSelect.value);
    st.page = 1;
    showReason();
    load();
  };
  for (const sel of [filterSelect, reasonSelect, sortSelect, sizeSelect]) sel.addEventListener('change', reload);
  await load();
}
