// Shared by the compatibility scripts: where dirgate is, how to call it,
// and a fetch that records what each client sent and got.

export const url = process.env.DIRGATE_URL + "/query";
export const key = process.env.DIRGATE_KEY;
export const authorization = "Bearer " + key;

if (!process.env.DIRGATE_URL || !key) {
  console.error("set DIRGATE_URL and DIRGATE_KEY");
  process.exit(2);
}

// recorder returns a fetch that adds the API key and records every
// exchange: method, path and query string, status and the headers the
// tests look at, and the error codes of the body.
export function recorder() {
  const exchanges = [];
  const fetchFn = async (input, init = {}) => {
    const headers = new Headers(init.headers);
    headers.set("authorization", authorization);
    const res = await fetch(input, { ...init, headers });
    const text = await res.clone().text();
    let codes = [];
    try {
      codes = (JSON.parse(text).errors || []).map((e) => e.extensions && e.extensions.code);
    } catch {}
    const u = new URL(typeof input === "string" ? input : input.url);
    exchanges.push({
      method: (init.method || "GET").toUpperCase(),
      query: Object.fromEntries(u.searchParams),
      body: typeof init.body === "string" ? JSON.parse(init.body) : null,
      accept: headers.get("accept"),
      status: res.status,
      contentType: res.headers.get("content-type"),
      cacheControl: res.headers.get("cache-control"),
      vary: res.headers.get("vary"),
      codes,
    });
    return res;
  };
  return { fetchFn, exchanges };
}

// print writes the script's findings as JSON, for compat_test.go to judge.
export function print(result) {
  process.stdout.write(JSON.stringify(result) + "\n");
}

// fetchWalk walks users with plain fetch, forwards or backwards, in pages
// of n, and returns the ids in connection order: the ground truth the
// clients' walks are compared with.
export async function fetchWalk(n, backward) {
  const query = `query Walk($first: Int, $after: String, $last: Int, $before: String) {
    users(first: $first, after: $after, last: $last, before: $before) {
      pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
      edges { node { id } }
    }
  }`;
  let ids = [];
  let cursor = null;
  for (let pages = 0; pages < 1000; pages++) {
    const variables = backward ? { last: n, before: cursor } : { first: n, after: cursor };
    const res = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json", authorization },
      body: JSON.stringify({ query, variables }),
    });
    const body = await res.json();
    if (res.status !== 200 || body.errors) {
      throw new Error(`fetch walk: ${res.status} ${JSON.stringify(body.errors)}`);
    }
    const { pageInfo, edges } = body.data.users;
    const page = edges.map((e) => e.node.id);
    if (backward) {
      ids = page.concat(ids);
      cursor = pageInfo.startCursor;
      if (!pageInfo.hasPreviousPage) return ids;
    } else {
      ids = ids.concat(page);
      cursor = pageInfo.endCursor;
      if (!pageInfo.hasNextPage) return ids;
    }
  }
  throw new Error("fetch walk: no end");
}
