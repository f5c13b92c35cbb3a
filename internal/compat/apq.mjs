// Automatic persisted queries over GET, as Apollo Client 4's
// PersistedQueryLink (useGETForHashedQueries) and urql's persistedExchange
// (preferGetForPersistedQueries) send them: each client runs one query
// twice; the first time dirgate does not hold it, the second time it runs
// by hash alone. Every exchange is recorded.
import { createHash } from "node:crypto";
import { ApolloClient, HttpLink, InMemoryCache, gql } from "@apollo/client";
import { PersistedQueryLink } from "@apollo/client/link/persisted-queries";
import { Client, fetchExchange } from "@urql/core";
import { persistedExchange } from "@urql/exchange-persisted";
import { url, recorder, print } from "./common.mjs";

const sha256 = (s) => createHash("sha256").update(s).digest("hex");

async function apollo() {
  const rec = recorder();
  const client = new ApolloClient({
    link: new PersistedQueryLink({ sha256, useGETForHashedQueries: true }).concat(new HttpLink({ uri: url, fetch: rec.fetchFn })),
    cache: new InMemoryCache(),
  });
  const Q = gql`query ProvidersByApollo4($first: Int) { providers { id key kind } users(first: $first) { totalCount } }`;
  const results = [];
  for (let i = 0; i < 2; i++) {
    const r = await client.query({ query: Q, variables: { first: 2 }, fetchPolicy: "network-only" });
    results.push({ data: r.data, error: r.error ? String(r.error) : null });
  }
  return { results, exchanges: rec.exchanges };
}

async function urql() {
  const rec = recorder();
  const client = new Client({
    url,
    fetch: rec.fetchFn,
    exchanges: [persistedExchange({ preferGetForPersistedQueries: true, generateHash: async (q) => sha256(q) }), fetchExchange],
    requestPolicy: "network-only",
  });
  const Q = `query ProvidersByUrql($first: Int) { providers { id key kind } users(first: $first) { totalCount } }`;
  const results = [];
  for (let i = 0; i < 2; i++) {
    const r = await client.query(Q, { first: 2 }).toPromise();
    results.push({ data: r.data, error: r.error ? String(r.error) : null });
  }
  return { results, exchanges: rec.exchanges };
}

print({ apollo: await apollo(), urql: await urql() });
