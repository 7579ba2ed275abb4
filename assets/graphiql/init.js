// Starts GraphiQL on the page GET /graphql serves to browsers. It is a file, not an
// inline script, so that the page's CSP can stay at script-src 'self'.
//
// The API takes a bearer token: put {"Authorization": "Bearer …"} in the headers tab.
// GraphiQL sends those headers with each POST and, for a subscription, as the
// graphql-transport-ws connection_init payload, which is where /graphql/ws reads it.
const subscriptionUrl = new URL('/graphql/ws', location.href);
subscriptionUrl.protocol = location.protocol === 'https:' ? 'wss:' : 'ws:';

ReactDOM.createRoot(document.getElementById('graphiql')).render(
  React.createElement(GraphiQL, {
    fetcher: GraphiQL.createFetcher({ url: '/graphql', subscriptionUrl: subscriptionUrl.href }),
    defaultEditorToolsVisibility: 'headers',
  }),
);
