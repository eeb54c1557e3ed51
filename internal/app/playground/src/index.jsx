// danbao's playground: GraphiQL against /graphql on the same origin. Bundled
// by build.mjs into dist/ (committed, embedded in the binary), so the page
// loads nothing from outside the server.
import { createRoot } from "react-dom/client";
import { GraphiQL } from "graphiql";
import { createGraphiQLFetcher } from "@graphiql/toolkit";
import "graphiql/style.css";

const fetcher = createGraphiQLFetcher({ url: new URL("/graphql", window.location.href).toString() });

const defaultQuery = `# danbao GraphQL playground.
# Sign in with the login mutation, then put
# {"Authorization": "Bearer <accessToken>"}
# in the Headers tab below.
{
  me {
    id
  }
}
`;

createRoot(document.getElementById("graphiql")).render(
  <GraphiQL fetcher={fetcher} defaultQuery={defaultQuery} isHeadersEditorEnabled={true} shouldPersistHeaders={false} />,
);
