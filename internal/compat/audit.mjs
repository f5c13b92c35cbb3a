// Runs the graphql-http audit suite (serverAudits) against dirgate and
// prints every audit's outcome.
import { serverAudits } from "graphql-http";
import { url, authorization, print } from "./common.mjs";

const fetchFn = (input, init = {}) => {
  const headers = new Headers(init.headers);
  headers.set("authorization", authorization);
  return fetch(input, { ...init, headers });
};

const results = [];
for (const audit of serverAudits({ url, fetchFn })) {
  const r = await audit.fn();
  results.push({ id: r.id, name: r.name, status: r.status, reason: r.reason || "" });
}
print(results);
