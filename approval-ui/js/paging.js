// Cursor paging for list views: a stack of the cursors that opened each page, so "Newer" goes back
// without the server needing backward cursors.
export class CursorPager {
  constructor() { this.reset(); }
  reset() {
    this.cursors = [''];
    this.page = 0;
    this.next = null;
  }
  get cursor() { return this.cursors[this.page]; }
  get hasOlder() { return Boolean(this.next); }
  get hasNewer() { return this.page > 0; }
  // After loading the current page: the server's next_cursor (null on the last page).
  loaded(nextCursor) { this.next = nextCursor || null; }
  older() {
    if (!this.next) return false;
    this.cursors = this.cursors.slice(0, this.page + 1);
    this.cursors.push(this.next);
    this.page += 1;
    return true;
  }
  newer() {
    if (this.page === 0) return false;
    this.page -= 1;
    return true;
  }
}

// Reads a filter <form> into {name: trimmed value} without empty values.
export function formValues(form) {
  const out = {};
  for (const [k, v] of new FormData(form).entries()) {
    const t = String(v).trim();
    if (t) out[k] = t;
  }
  return out;
}
