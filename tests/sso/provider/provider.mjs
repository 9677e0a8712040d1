// A real OpenID Connect provider for tests/sso (the `oidc-provider` package), on 127.0.0.1 and a
// free port. Prints "listening <issuer>" once ready.
//
//   node provider.mjs <client_id> <client_secret> <redirect_uri>
//
// Test-only routes (the provider's own routes are untouched):
//   PUT  /test/accounts/<id>        JSON {email, name, preferred_username, groups}: the account's claims
//   GET  /interaction/<uid>         JSON: the pending interaction; to a browser (Accept: text/html)
//                                   the provider's sign-in page, a form posting to .../login
//   POST /interaction/<uid>/login   form login=<id>: signs <id> in and consents to the scopes asked
//   GET  /mixup/.well-known/openid-configuration
//        a discovery document naming the issuer <issuer>/mixup but pointing at this provider's
//        endpoints (the mix-up attack): its ID tokens name <issuer>, not <issuer>/mixup.
import http from 'node:http';
import Provider from 'oidc-provider';

const [clientId, clientSecret, redirectUri] = process.argv.slice(2);
const accounts = new Map();

const escapeHtml = (text) => String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const signInPage = (uid, client) => `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Sign in: Test IdP</title></head>
<body><main><h1>Test IdP</h1><p>Sign in to continue to ${escapeHtml(client)}.</p>
<form method="post" action="/interaction/${escapeHtml(uid)}/login">
<label for="login">Account</label> <input id="login" name="login" autocomplete="username" required>
<button type="submit">Continue</button></form></main></body></html>`;

const server = http.createServer();
server.listen(0, '127.0.0.1', () => {
  const issuer = `http://127.0.0.1:${server.address().port}`;
  const provider = new Provider(issuer, {
    clients: [{
      client_id: clientId,
      client_secret: clientSecret,
      redirect_uris: [redirectUri],
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_post',
    }],
    claims: {
      openid: ['sub'],
      email: ['email', 'email_verified'],
      profile: ['name', 'given_name', 'family_name', 'preferred_username'],
      groups: ['groups'],
    },
    scopes: ['openid', 'email', 'profile', 'groups'],
    features: { devInteractions: { enabled: false } },
    interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
    async findAccount(ctx, id) {
      const account = accounts.get(id);
      if (!account) return undefined;
      return { accountId: id, async claims() { return { sub: id, email_verified: true, ...account }; } };
    },
  });

  const readBody = (req) => new Promise((resolve) => {
    let body = '';
    req.on('data', (chunk) => { body += chunk; });
    req.on('end', () => resolve(body));
  });

  provider.use(async (ctx, next) => {
    const path = ctx.path;
    let match;
    if (ctx.method === 'PUT' && (match = path.match(/^\/test\/accounts\/([^/]+)$/))) {
      accounts.set(decodeURIComponent(match[1]), JSON.parse(await readBody(ctx.req)));
      ctx.status = 204;
      return;
    }
    if (ctx.method === 'GET' && path === '/mixup/.well-known/openid-configuration') {
      const own = await fetch(`${issuer}/.well-known/openid-configuration`).then((r) => r.json());
      ctx.body = { ...own, issuer: `${issuer}/mixup` };
      return;
    }
    if (ctx.method === 'GET' && (match = path.match(/^\/interaction\/([^/]+)$/))) {
      const details = await provider.interactionDetails(ctx.req, ctx.res);
      if (ctx.accepts('json', 'html') === 'html') {
        ctx.type = 'html';
        ctx.body = signInPage(details.uid, details.params.client_id);
        return;
      }
      ctx.body = { uid: details.uid, prompt: details.prompt.name, client_id: details.params.client_id };
      return;
    }
    if (ctx.method === 'POST' && (match = path.match(/^\/interaction\/([^/]+)\/login$/))) {
      const details = await provider.interactionDetails(ctx.req, ctx.res);
      const accountId = new URLSearchParams(await readBody(ctx.req)).get('login');
      if (!accounts.has(accountId)) {
        ctx.status = 400;
        ctx.body = { error: `no test account ${accountId}` };
        return;
      }
      const grant = new provider.Grant({ accountId, clientId: details.params.client_id });
      grant.addOIDCScope(details.params.scope);
      const grantId = await grant.save();
      const url = await provider.interactionResult(ctx.req, ctx.res,
        { login: { accountId }, consent: { grantId } }, { mergeWithLastSubmission: false });
      ctx.status = 303;
      ctx.redirect(url);
      return;
    }
    await next();
  });

  server.on('request', provider.callback());
  console.log(`listening ${issuer}`);
});
