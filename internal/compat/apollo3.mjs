// Apollo Client 3 (Accept: */*, so application/json): a page above
// server.maxPageSize comes back, with errorPolicy "all", as a GraphQL
// error whose extensions.code is PAGE_SIZE_LIMIT_EXCEEDED, not as a
// network error; and its persisted-query link runs a query by hash over
// GET.
import { createHash } from "node:crypto";
import { ApolloClient, HttpLink, InMemoryCache, gql } from "apollo-client-3/core/index.js";
import { createPersistedQueryLink } from "apollo-client-3/link/persisted-queries/index.js";
import { url, recorder, print } from "./common.mjs";

const TOO_BIG = gql`
  query TooBig { users(first: 5000) { totalCount edges { node { id } } } }
`;

const limit = recorder();
const client = new ApolloClient({
  link: new HttpLink({ uri: url, fetch: limit.fetchFn }),
  cache: new InMemoryCache(),
});
let pageSize;
try {
  const r = await client.query({ query: TOO_BIG, errorPolicy: "all", fetchPolicy: "network-only" });
  pageSize = {
    outcome: "resolved",
    data: r.data === undefined ? "undefined" : r.data,
    graphQLErrors: (r.errors || []).map((e) => ({ message: e.message, code: e.extensions && e.extensions.code })),
    networkError: r.error && r.error.networkError ? String(r.error.networkError) : null,
  };
} catch (err) {
  pageSize = { outcome: "rejected", networkError: String(err.networkError || err) };
}

const apq = recorder();
const sha256 = (s) => createHash("sha256").update(s).digest("hex");
const pq = new ApolloClient({
  link: createPersistedQueryLink({ sha256, useGETForHashedQueries: true }).concat(new HttpLink({ uri: url, fetch: apq.fetchFn })),
  cache: new InMemoryCache(),
});
const PROVIDERS = gql`query ProvidersByApollo3 { providers { id key kind } }`;
const results = [];
for (let i = 0; i < 2; i++) {
  const r = await pq.query({ query: PROVIDERS, fetchPolicy: "network-only" });
  results.push({ data: r.data, errors: r.errors || null });
}

print({ pageSize, pageSizeExchanges: limit.exchanges, apq: { results, exchanges: apq.exchanges } });
