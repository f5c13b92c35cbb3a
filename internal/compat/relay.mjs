// Relay: the compiler's artifacts for the operations in relay/operations.js
// run by relay-runtime against dirgate. It walks users with the connection
// handler forward and backward, and refetches a user through the Node
// interface, and prints what the store holds as JSON.
import { createRequire } from "node:module";
import path from "node:path";

const require = createRequire(import.meta.url);
const {
  Environment, Network, RecordSource, Store, fetchQuery, commitLocalUpdate,
  ConnectionHandler, createOperationDescriptor,
} = require("relay-runtime");

const url = process.env.DIRGATE_URL + "/query";
const key = process.env.DIRGATE_KEY;
const pageSize = Number(process.env.PAGE_SIZE);
const artifacts = process.env.RELAY_ARTIFACTS;
const artifact = (name) => require(path.join(artifacts, name + ".graphql.js"));
const Walk = artifact("RelayWalkPaginationQuery");
const Refetch = artifact("RelayUserRefetchQuery");

function environment() {
  const env = {
    requests: 0,
    relay: null,
  };
  const network = Network.create(async (params, variables) => {
    env.requests++;
    const headers = { "Content-Type": "application/json", Accept: "application/graphql-response+json" };
    if (key) headers.Authorization = "Bearer " + key;
    const res = await fetch(url, { method: "POST", headers, body: JSON.stringify({ query: params.text, variables }) });
    const body = await res.json();
    if (!res.ok || body.errors) throw new Error(`${params.name}: ${res.status} ${JSON.stringify(body.errors)}`);
    return body;
  });
  env.relay = new Environment({ network, store: new Store(new RecordSource()) });
  return env;
}

// connection reads the users connection as the connection handler keeps it.
function connection(env) {
  let out;
  commitLocalUpdate(env.relay, (store) => {
    const conn = ConnectionHandler.getConnection(store.getRoot(), "RelayWalk_users");
    const info = conn?.getLinkedRecord("pageInfo");
    out = {
      ids: (conn?.getLinkedRecords("edges") ?? []).map((e) => e.getLinkedRecord("node").getValue("id")),
      start: info?.getValue("startCursor"), end: info?.getValue("endCursor"),
      hasNext: info?.getValue("hasNextPage"), hasPrevious: info?.getValue("hasPreviousPage"),
    };
  });
  return out;
}

async function page(env, variables) {
  // Retained, so that the store's garbage collection keeps every page.
  env.relay.retain(createOperationDescriptor(Walk, variables));
  await fetchQuery(env.relay, Walk, variables, { fetchPolicy: "network-only" }).toPromise();
  return connection(env);
}

async function walk(backward) {
  const env = environment();
  let c = await page(env, backward ? { last: pageSize } : { first: pageSize });
  for (let guard = 0; backward ? c.hasPrevious : c.hasNext; guard++) {
    if (guard > 10000) throw new Error("no end");
    c = await page(env, backward ? { last: pageSize, before: c.start } : { first: pageSize, after: c.end });
  }
  return { env, ids: c.ids, requests: env.requests };
}

const forward = await walk(false);
const backward = await walk(true);

// Refetch one user the forward walk loaded through Node: the store keeps
// one record per id, with the walk's email and the refetch's displayName.
const id = forward.ids[Math.floor(forward.ids.length / 2)];
forward.env.relay.retain(createOperationDescriptor(Refetch, { id }));
await fetchQuery(forward.env.relay, Refetch, { id }, { fetchPolicy: "network-only" }).toPromise();
let node;
commitLocalUpdate(forward.env.relay, (store) => {
  const r = store.get(id);
  node = { id, typename: r?.getType(), email: r?.getValue("email"), displayName: r?.getValue("displayName") };
});

console.log(JSON.stringify({
  forward: forward.ids, forwardRequests: forward.requests,
  backward: backward.ids, backwardRequests: backward.requests, node,
}));
