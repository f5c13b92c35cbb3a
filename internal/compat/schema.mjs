// graphql-js reads /schema.graphql, and the schema it builds from it
// prints the same as the one it builds from dirgate's introspection: the
// downloadable SDL is the schema clients see, descriptions included.
import { buildClientSchema, buildSchema, getIntrospectionQuery, lexicographicSortSchema, printSchema } from "graphql";
import { url, authorization, print } from "./common.mjs";

const sdlRes = await fetch(url.replace(/\/query$/, "/schema.graphql"), { headers: { authorization } });
const sdl = await sdlRes.text();
const introRes = await fetch(url, {
  method: "POST",
  headers: { "content-type": "application/json", authorization },
  body: JSON.stringify({ query: getIntrospectionQuery({ descriptions: true, specifiedByUrl: true, directiveIsRepeatable: true, inputValueDeprecation: true }) }),
});
const intro = await introRes.json();
if (intro.errors) throw new Error(JSON.stringify(intro.errors));
const fromSDL = printSchema(lexicographicSortSchema(buildSchema(sdl)));
const fromIntrospection = printSchema(lexicographicSortSchema(buildClientSchema(intro.data)));
print({ sdlStatus: sdlRes.status, sdlContentType: sdlRes.headers.get("content-type"), fromSDL, fromIntrospection });
