// The whole Coffee Rounds journey in headless Chromium, run by tests/browser.rs against the real
// app on a free port with a fresh database and a real SMTP sink. Every page a person reaches is
// also checked: axe-core (no serious or critical violation), a label on every form field, no
// horizontal scrolling at 390 px, screenshots at phone and desktop size, and, at the end, the Nu
// HTML Checker on the HTML exactly as the server sent it. Exit status 0 only if all of it passed.
//
// Environment (set by tests/browser.rs): BASE_URL, MAIL_DIRS (folders of received mail, separated
// by the platform's path delimiter), SIGNUP_DOMAIN, COORDINATOR_EMAIL, COORDINATOR_PASSWORD,
// COORDINATOR_PAGES (one GET path per line, `{id}` for a round), FOLLOW_UP_EMAIL (a colleague sent
// the ten-week follow-up before the journey starts), ARTIFACTS_DIR, CHROMIUM.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { Mailbox, linkIn } from './mail.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const env = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set (run through: cargo test --test browser)`);
  return value;
};
const BASE = env('BASE_URL');
const ARTIFACTS = env('ARTIFACTS_DIR');
const DOMAIN = env('SIGNUP_DOMAIN');
const mailbox = new Mailbox(env('MAIL_DIRS').split(path.delimiter));
const PHONE = { width: 390, height: 844 };
const DESKTOP = { width: 1280, height: 800 };
const PASSWORD = 'plum kettle lantern harbour';
const NEW_PASSWORD = 'quiet orchard velvet compass';

fs.rmSync(ARTIFACTS, { recursive: true, force: true });
for (const dir of ['screenshots', 'html']) fs.mkdirSync(path.join(ARTIFACTS, dir), { recursive: true });

// Page checks are collected and reported together; a broken journey step throws at once.
const problems = [];
const pages = [];
const axeByRule = {};
const started = Date.now();
const log = (line) => console.log(`[${((Date.now() - started) / 1000).toFixed(1).padStart(5)} s] ${line}`);

function expect(condition, what) {
  if (!condition) throw new Error(`expected: ${what}`);
  log(`ok  ${what}`);
}

async function text(locator) {
  return ((await locator.innerText()) || '').replace(/\s+/g, ' ').trim();
}

async function expectText(page, selector, pattern, what) {
  const locator = page.locator(selector).first();
  await locator.waitFor({ timeout: 5000 }).catch(() => {});
  const seen = (await locator.count()) ? await text(locator) : '(nothing)';
  expect(pattern.test(seen), `${what}: ${selector} shows ${pattern} (saw "${seen.slice(0, 160)}")`);
}

/** A browser tab that remembers the last document the server sent it (for the validator). */
async function tab(context, who) {
  const page = await context.newPage();
  page.who = who;
  page.on('response', (response) => {
    const request = response.request();
    const redirect = response.status() >= 300 && response.status() < 400;
    if (request.isNavigationRequest() && request.frame() === page.mainFrame() && !redirect) page.lastDocument = response;
  });
  page.on('pageerror', (error) => problems.push(`${who}: script error on ${page.url()}: ${error.message}`));
  return page;
}

/** Every check on the page as it is now, under `name` in the artifacts. */
async function inspect(page, name, { status = 200 } = {}) {
  const response = page.lastDocument;
  expect(response && response.status() === status, `${name}: ${page.url()} answered ${status}`);
  const index = String(pages.length + 1).padStart(2, '0');
  const html = await response.text().catch(() => null);
  const htmlFile = path.join(ARTIFACTS, 'html', `${index}-${name}.html`);
  fs.writeFileSync(htmlFile, html ?? (await page.content()));
  if (html === null) problems.push(`${name}: the raw HTML was not available; validated the DOM instead`);
  pages.push({ name, url: page.url().replace(BASE, ''), status, htmlFile });

  // Every form control a person fills in or chooses has a label.
  const unlabelled = await page.evaluate(() =>
    [...document.querySelectorAll('input, select, textarea')]
      .filter((el) => !['hidden', 'submit', 'button', 'reset'].includes(el.type))
      .filter((el) => el.labels.length === 0 && !el.getAttribute('aria-label') && !el.getAttribute('aria-labelledby'))
      .map((el) => el.outerHTML.slice(0, 120)),
  );
  for (const field of unlabelled) problems.push(`${name}: form field without a label: ${field}`);

  await page.setViewportSize(PHONE);
  const overflow = await page.evaluate(() => {
    const width = document.documentElement.clientWidth;
    const wide = [...document.querySelectorAll('body *')]
      .filter((el) => el.getBoundingClientRect().right > width + 1 && !el.closest('.table-wrap'))
      .slice(0, 5)
      .map((el) => `<${el.tagName.toLowerCase()}${el.id ? `#${el.id}` : ''}${el.className && typeof el.className === 'string' ? `.${el.className.split(' ').join('.')}` : ''}> ${Math.round(el.getBoundingClientRect().right)} px`);
    return { scrollWidth: document.documentElement.scrollWidth, viewport: window.innerWidth, wide };
  });
  if (overflow.scrollWidth > overflow.viewport) {
    problems.push(
      `${name}: scrolls sideways on a phone: document ${overflow.scrollWidth} px wide in a ${overflow.viewport} px viewport (${overflow.wide.join(', ')})`,
    );
  }
  await page.screenshot({ path: path.join(ARTIFACTS, 'screenshots', `${index}-${name}-phone.png`), fullPage: true });

  // axe-core is injected past the app's Content-Security-Policy (the context bypasses it: the app
  // itself serves no script at all). It runs at phone size and again at desk size, since the
  // coordinator pages lay out differently there.
  await page.addScriptTag({ path: path.join(here, 'node_modules/axe-core/axe.min.js') });
  let findings = await axe(page, name, 'phone');
  await page.setViewportSize(DESKTOP);
  findings += await axe(page, name, 'desk');
  await page.screenshot({ path: path.join(ARTIFACTS, 'screenshots', `${index}-${name}-desktop.png`), fullPage: true });
  log(`checked ${name} (${page.url().replace(BASE, '')}): ${findings} axe finding(s)`);
}

/** Runs axe on the page as it is laid out now; records serious and critical findings as problems. */
async function axe(page, name, size) {
  const violations = await page.evaluate(async () => {
    const result = await window.axe.run(document, { resultTypes: ['violations'] });
    return result.violations.map((v) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      nodes: v.nodes.map((n) => `${n.target.join(' ')}: ${n.failureSummary.replace(/\s+/g, ' ')}`),
    }));
  });
  for (const v of violations) {
    axeByRule[v.id] ??= { impact: v.impact, help: v.help, pages: [] };
    axeByRule[v.id].pages.push(`${name} (${size})`);
    const line = `${name} at ${size} size: axe ${v.impact} ${v.id} (${v.help}) on ${v.nodes.length} element(s): ${v.nodes.slice(0, 3).join(' | ')}`;
    if (v.impact === 'serious' || v.impact === 'critical') problems.push(line);
    else log(`note ${line}`);
  }
  return violations.length;
}

async function goto(page, pathOrUrl) {
  await page.goto(pathOrUrl.startsWith('http') ? pathOrUrl : BASE + pathOrUrl);
}

/** Clicks and waits for the page it leads to. */
async function follow(page, locator) {
  await Promise.all([page.waitForNavigation(), locator.click()]);
}

async function fillSignup(page, { email, name, password, role = 'Nurse', stage = 'Trainee', department = 'Cardiology', site = 'North Campus', format = 'Video', times = ['Midday, 11:00 to 14:00'], frequency = 'Twice a month' }) {
  await page.getByLabel('Work email').fill(email);
  await page.getByLabel('Full name').fill(name);
  await page.getByLabel('Password', { exact: true }).fill(password);
  await page.getByLabel('Profession').selectOption(role ? { label: role } : '');
  if (stage) await page.getByRole('radio', { name: new RegExp(`^${stage}\\b`) }).check();
  await page.getByLabel('Department', { exact: true }).selectOption(department ? { label: department } : '');
  if (await page.getByLabel('Site', { exact: true }).count()) await page.getByLabel('Site', { exact: true }).selectOption(site ? { label: site } : '');
  if (format) await page.getByRole('radio', { name: new RegExp(`^${format}\\b`) }).check();
  for (const time of times) await page.getByLabel(time).check();
  if (frequency) await page.getByRole('radio', { name: new RegExp(`^${frequency}\\b`) }).check();
}

/** The figure in the dashboard's "Accounts by status" table for `status`, as shown. */
async function statusCount(page, status) {
  await goto(page, '/coordinator');
  const cell = page.locator('#totals tr', { has: page.locator('th', { hasText: new RegExp(`^${status}$`) }) }).locator('td');
  return Number(await text(cell));
}

/** The number of answers to "Did it lead to anything?" of the last 12 months, as the Outcomes page shows it. */
async function followUpAnswers(page) {
  await goto(page, '/coordinator/outcomes');
  return Number(await text(page.locator('#led-to-rounds tr[data-led-to="last-12-months"] td[data-figure="answers"]')));
}

/** The "Met" figure of the round of `month` on the rounds page, as shown. */
async function meetRate(page, month) {
  await goto(page, '/coordinator/rounds');
  return text(page.locator(`#rounds tr[data-month="${month}"][data-kind="main"] td[data-figure="met"]`));
}

async function logIn(page, email, password) {
  await goto(page, '/login');
  await page.getByLabel('Work email').fill(email);
  await page.getByLabel('Password', { exact: true }).fill(password);
  await follow(page, page.getByRole('button', { name: 'Log in' }));
}

async function logOut(page) {
  await follow(page, page.getByRole('navigation', { name: 'Main' }).getByRole('button', { name: 'Log out' }));
}

const browser = await chromium.launch({
  executablePath: env('CHROMIUM'),
  headless: true,
  args: [
    '--no-sandbox',
    '--disable-gpu',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
  ],
});
// Each context is a fresh, empty profile: no cookies, cache or history from any earlier run.
async function newContext() {
  const context = await browser.newContext({ viewport: DESKTOP, bypassCSP: true, locale: 'en-GB' });
  context.setDefaultTimeout(10000);
  return context;
}

let failed = false;
try {
  const visitorContext = await newContext();
  const coordinatorContext = await newContext();
  const me = await tab(visitorContext, 'visitor');
  const coordinator = await tab(coordinatorContext, 'coordinator');
  const email = `noor.haddad.${Date.now().toString(36)}@${DOMAIN}`;

  // 3 (before): the coordinator logs in and notes the figures.
  await logIn(coordinator, env('COORDINATOR_EMAIL'), env('COORDINATOR_PASSWORD'));
  await expectText(coordinator, 'h1', /Coordinator dashboard/, 'a coordinator logging in lands on the dashboard');
  await follow(coordinator, coordinator.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Profile' }));
  await expectText(coordinator, 'h1', /Your profile/, 'the Profile link opens their own profile');
  await follow(coordinator, coordinator.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Dashboard' }));
  await expectText(coordinator, 'h1', /Coordinator dashboard/, 'the Dashboard link opens the coordinator dashboard');
  await inspect(coordinator, 'coordinator-dashboard');

  // The program runs on two campuses: the coordinator lists them in Settings.
  await goto(coordinator, '/coordinator/settings');
  for (const site of ['North Campus', 'South Campus']) {
    await coordinator.locator('#sites-add-name').fill(site);
    await follow(coordinator, coordinator.locator('form:has(#sites-add-name)').getByRole('button', { name: 'Add' }));
    await expectText(coordinator, '.flash', new RegExp(`Added the site ${site}`), `the site ${site} is added`);
  }
  await inspect(coordinator, 'coordinator-settings-sites');
  const before = {
    active: await statusCount(coordinator, 'Active'),
    paused: await statusCount(coordinator, 'Paused'),
    awaiting: await statusCount(coordinator, 'Awaiting confirmation'),
    optedOut: await statusCount(coordinator, 'Opted out'),
  };
  log(`dashboard before: ${JSON.stringify(before)}`);

  // 1. A new visitor signs up, after three mistakes.
  await goto(me, '/');
  await expectText(me, 'h1', /Meet a colleague/, 'the home page says what Coffee Rounds is');
  await expectText(me, '#how-it-works', /How it works/, 'the home page explains how it works');
  await inspect(me, 'home');
  await follow(me, me.getByRole('link', { name: 'Sign up with your work email' }));
  await expectText(me, 'h1', /Join Coffee Rounds/, 'the signup form opens');
  await inspect(me, 'signup');

  await fillSignup(me, { email: 'noor.haddad@gmail.com', name: 'Noor Haddad', password: PASSWORD });
  await follow(me, me.getByRole('button', { name: 'Create my account' }));
  await expectText(me, '.field:has(#email) .field-error', new RegExp(`ending in ${DOMAIN}`), 'a wrong domain is explained next to the email field');
  await expectText(me, '.error-summary', /Please check the form/, 'the error summary heads the form');
  expect((await me.getByLabel('Work email').inputValue()) === 'noor.haddad@gmail.com', 'the email typed is kept');
  expect((await me.getByLabel('Full name').inputValue()) === 'Noor Haddad', 'the name typed is kept');
  expect((await me.getByLabel('Department', { exact: true }).inputValue()) === 'Cardiology', 'the department chosen is kept');
  expect((await me.getByLabel('Site', { exact: true }).inputValue()) === 'North Campus', 'the site chosen is kept');
  expect(await me.getByRole('radio', { name: /^Video\b/ }).isChecked(), 'the meeting format chosen is kept');
  expect(await me.getByLabel('Midday, 11:00 to 14:00').isChecked(), 'the free time ticked is kept');
  expect(await me.getByRole('radio', { name: /^Trainee\b/ }).isChecked(), 'the career stage chosen is kept');
  expect(await me.getByRole('radio', { name: /^Twice a month\b/ }).isChecked(), 'the frequency chosen is kept');
  await expectText(me, '#frequency', /a good pace early on/, 'the form says two a month is a good pace early on');
  await inspect(me, 'signup-wrong-domain', { status: 422 });

  await fillSignup(me, { email, name: 'Noor Haddad', password: 'short' });
  await follow(me, me.getByRole('button', { name: 'Create my account' }));
  await expectText(me, '.field:has(#password) .field-error', /12/, 'a short password is explained next to the password field');
  expect((await me.getByLabel('Work email').inputValue()) === email, 'the corrected email is kept');
  expect((await me.getByLabel('Profession').inputValue()) === 'Nurse', 'the profession chosen is kept');
  await inspect(me, 'signup-short-password', { status: 422 });

  await fillSignup(me, { email, name: '', password: PASSWORD });
  await follow(me, me.getByRole('button', { name: 'Create my account' }));
  await expectText(me, '.field:has(#name) .field-error', /.+/, 'a missing name is pointed out next to the name field');
  expect((await me.getByLabel('Work email').inputValue()) === email, 'the email is still kept');
  expect((await me.locator('.field:has(#email) .field-error').count()) === 0, 'the email field no longer shows an error');
  await inspect(me, 'signup-missing-name', { status: 422 });

  await fillSignup(me, { email, name: 'Noor Haddad', password: PASSWORD });
  await follow(me, me.getByRole('button', { name: 'Create my account' }));
  await expectText(me, 'h1', /Check your email/, 'a valid signup asks to check the email');
  await inspect(me, 'check-email');
  const awaiting = await statusCount(coordinator, 'Awaiting confirmation');
  expect(awaiting === before.awaiting + 1, `the dashboard counts one more awaiting confirmation (${before.awaiting} -> ${awaiting})`);

  // 2. Confirms by the emailed link, logs in, edits the profile, pauses and rejoins.
  const confirmation = await mailbox.next(email);
  await goto(me, linkIn(confirmation, { prefix: `${BASE}/confirm?token=` }));
  await expectText(me, 'h1', /Activate your account/, 'the emailed link opens the confirmation page');
  await inspect(me, 'confirm');
  await me.getByLabel('Your password').fill(PASSWORD);
  await follow(me, me.getByRole('button', { name: 'Confirm my account' }));
  await expectText(me, 'h1', /Your profile/, 'confirming lands on the profile');
  await expectText(me, '#participation', /You are taking part/, 'the new member takes part');
  expect(await me.getByRole('radio', { name: /^Twice a month\b/ }).isChecked(), 'the profile keeps the frequency chosen at sign-up');
  await inspect(me, 'profile');
  let active = await statusCount(coordinator, 'Active');
  expect(active === before.active + 1, `the dashboard counts one more active participant (${before.active} -> ${active})`);

  await logOut(me);
  await follow(me, me.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Log in' }));
  await expectText(me, 'h1', /Log in/, 'the login page opens');
  await inspect(me, 'login');
  await me.getByLabel('Work email').fill(email);
  await me.getByLabel('Password', { exact: true }).fill('not the password at all');
  await follow(me, me.getByRole('button', { name: 'Log in' }));
  await expectText(me, '.error-summary', /.+/, 'a wrong password is refused with a message');
  expect((await me.getByLabel('Work email').inputValue()) === email, 'the login form keeps the email');
  await inspect(me, 'login-wrong-password', { status: 401 });
  await me.getByLabel('Password', { exact: true }).fill(PASSWORD);
  await follow(me, me.getByRole('button', { name: 'Log in' }));
  await expectText(me, 'h1', /Your profile/, 'logging in opens the profile');

  await me.getByLabel('Full name').fill('Noor Haddad-Okoye');
  await me.getByLabel('Department', { exact: true }).selectOption({ label: 'Emergency Medicine' });
  await follow(me, me.getByRole('button', { name: 'Save changes' }));
  await expectText(me, '.flash', /Your details are saved/, 'saving the profile says so');
  expect((await me.getByLabel('Full name').inputValue()) === 'Noor Haddad-Okoye', 'the new name is shown');
  expect((await me.getByLabel('Department', { exact: true }).inputValue()) === 'Emergency Medicine', 'the new department is shown');

  await me.getByLabel('Pause for').selectOption('2');
  await follow(me, me.getByRole('button', { name: 'Pause', exact: true }));
  await expectText(me, '#participation', /Paused through/, 'pausing shows until when');
  await inspect(me, 'profile-paused');
  const paused = await statusCount(coordinator, 'Paused');
  active = await statusCount(coordinator, 'Active');
  expect(paused === before.paused + 1 && active === before.active, `the dashboard moves the member to paused (paused ${paused}, active ${active})`);
  await follow(me, me.getByRole('button', { name: 'End the pause now' }));
  await expectText(me, '#participation', /You are taking part/, 'ending the pause rejoins the rounds');

  await follow(me, me.getByRole('button', { name: 'Opt out of the rounds' }));
  await expectText(me, '#participation', /You have opted out/, 'opting out says so');
  const optedOut = await statusCount(coordinator, 'Opted out');
  expect(optedOut === before.optedOut + 1, `the dashboard counts one more opted out (${before.optedOut} -> ${optedOut})`);
  await follow(me, me.getByRole('button', { name: 'Rejoin the rounds' }));
  await expectText(me, '#participation', /You are taking part/, 'rejoining puts the member back in');
  active = await statusCount(coordinator, 'Active');
  expect(active === before.active + 1, `the dashboard counts the member active again (${active})`);

  await follow(me, me.getByRole('link', { name: 'Change your password' }));
  await expectText(me, 'h1', /Change your password/, 'the password page opens from the profile');
  await inspect(me, 'password-change');
  await follow(me, me.getByRole('link', { name: 'Back to your profile' }));
  await follow(me, me.getByRole('link', { name: 'Delete your account and data' }));
  await expectText(me, 'h1', /Delete your account/, 'the delete page asks first');
  await inspect(me, 'delete-account');
  await follow(me, me.getByRole('link', { name: 'Keep my account' }));

  // 3. The coordinator previews the round and runs it.
  await goto(coordinator, '/coordinator');
  await follow(coordinator, coordinator.getByRole('navigation', { name: 'Coordinator' }).getByRole('link', { name: 'Next round' }));
  await expectText(coordinator, 'h1', /Preview: the .* round/, 'the preview names the month');
  await expectText(coordinator, 'main', /Noor Haddad-Okoye/, 'the new member is in a preview group, under the new name');
  await inspect(coordinator, 'coordinator-preview');
  await follow(coordinator, coordinator.getByRole('link', { name: 'Run now…' }));
  await expectText(coordinator, 'h1', /Run the .* round\?/, 'running asks for confirmation');
  await inspect(coordinator, 'coordinator-run');
  const month = await coordinator.locator('input[name=month]').inputValue();
  await follow(coordinator, coordinator.getByRole('button', { name: /Yes, run the/ }));
  await expectText(coordinator, '.flash', /round has run/, 'the run reports what it did');
  await expectText(coordinator, 'h1', /Rounds/, 'the run lands on the rounds list');
  await inspect(coordinator, 'coordinator-rounds');
  const rateBefore = await meetRate(coordinator, month);
  expect(rateBefore === '0%', `a new round has met nobody yet (Met: ${rateBefore})`);
  await follow(coordinator, coordinator.locator(`#rounds tr[data-month="${month}"][data-kind="main"] th a`));
  const roundPath = new URL(coordinator.url()).pathname;
  await expectText(coordinator, 'h1', new RegExp(`Round ${month}`), 'the round detail opens');
  await expectText(coordinator, '#groups', /Noor Haddad-Okoye/, 'the round detail lists the new member');
  await inspect(coordinator, 'coordinator-round');

  // 4. The participant answers the intro email's "We met" link.
  const intro = await mailbox.next(email);
  expect(/introduc|coffee|meet/i.test(intro.subject), `an introduction email arrived ("${intro.subject}")`);
  expect(intro.text.includes('You meet by video'), 'the member who chose video is introduced as a video group');
  await goto(me, linkIn(intro, { label: 'We met:', prefix: `${BASE}/r/` }));
  await expectText(me, 'h1', /Did you meet\?/, 'the "We met" link asks to confirm');
  await inspect(me, 'link-we-met');
  await follow(me, me.getByRole('button', { name: 'Yes, we met' }));
  await expectText(me, 'h1', /Thank you!/, 'the answer is acknowledged');
  await expectText(me, 'main', /recorded that you met/, 'the page says the meeting is recorded');
  await inspect(me, 'link-we-met-done');
  // 4a. The intro's footer changes how often, in one click, without logging in.
  expect(/How often: twice a month/.test(intro.text), 'the intro says how often the member meets');
  const scanner = await tab(await newContext(), 'scanner');
  await goto(scanner, linkIn(intro, { label: 'Once a month:', prefix: `${BASE}/r/` }));
  await expectText(scanner, 'h1', /Once a month from now on\?/, 'the frequency link asks to confirm');
  await inspect(scanner, 'link-frequency');
  await follow(scanner, scanner.getByRole('button', { name: 'Yes, change it' }));
  await expectText(scanner, 'h1', /How often: changed/, 'the change is acknowledged');
  await expectText(scanner, 'main', /From now on: once a month/, 'the page says the new frequency');
  const rateAfter = await meetRate(coordinator, month);
  expect(rateAfter !== rateBefore && rateAfter !== '0%', `the coordinator sees the meet rate change (${rateBefore} -> ${rateAfter})`);
  await goto(me, '/profile');
  await expectText(me, '#my-rounds', /You met/, 'the profile lists the round as met');
  expect(await me.getByRole('radio', { name: /^Once a month\b/ }).isChecked(), 'the profile shows the frequency changed from the email');
  await expectText(me, '#my-rounds', /Did it lead to anything\?/, 'a met round asks what it led to');
  await expectText(me, '#my-network', /1 conversation so far/, 'My coffee network shows the pace so far');
  await inspect(me, 'profile-after-round');

  // 4b. A colleague who met ten weeks ago answers the follow-up's "Did it lead to anything?" in
  // one click, without logging in, and the coordinator's Outcomes page counts the answer.
  const answersBefore = await followUpAnswers(coordinator);
  let followUp = await mailbox.next(env('FOLLOW_UP_EMAIL'));
  while (!/lead to anything/.test(followUp.subject)) followUp = await mailbox.next(env('FOLLOW_UP_EMAIL'));
  const colleague = await tab(await newContext(), 'colleague');
  await goto(colleague, linkIn(followUp, { label: 'Advice I used:', prefix: `${BASE}/r/` }));
  await expectText(colleague, 'h1', /Did it lead to anything\?/, 'the follow-up link asks to confirm the answer');
  await inspect(colleague, 'link-led-to');
  await follow(colleague, colleague.getByRole('button', { name: 'Record my answer' }));
  await expectText(colleague, 'main', /recorded your answer: “Advice I used”/, 'the answer is recorded');
  await inspect(colleague, 'link-led-to-done');
  const answersAfter = await followUpAnswers(coordinator);
  expect(answersAfter === answersBefore + 1, `the Outcomes page counts one more answer (${answersBefore} -> ${answersAfter})`);
  await expectText(coordinator, '#summary-led-to', new RegExp(`${answersAfter} answers?`), 'the summary counts it too');

  // 5. A participant cannot open a coordinator page; unknown addresses and links are explained.
  await goto(me, '/coordinator');
  await expectText(me, 'h1', /Not allowed/, 'a participant gets the 403 page on the dashboard');
  await inspect(me, 'error-403', { status: 403 });
  await goto(me, '/no-such-page');
  await expectText(me, 'h1', /Page not found/, 'an unknown address gets the 404 page');
  await inspect(me, 'error-404', { status: 404 });
  await goto(me, '/r/not-a-real-link');
  await expectText(me, 'h1', /This link is not valid/, 'a broken emailed link is explained');
  await inspect(me, 'link-invalid', { status: 404 });

  // Every coordinator page (the list comes from the app's own route table).
  for (const route of env('COORDINATOR_PAGES').split('\n').filter(Boolean)) {
    const concrete = route.replace('{id}', roundPath.split('/').pop());
    expect(!/[{}]/.test(concrete), `coordinator route ${route} has only parameters this journey can fill in (add new ones here)`);
    await goto(coordinator, concrete);
    await expectText(coordinator, 'h1', /\S/, `coordinator page ${concrete} has a heading`);
    await inspect(coordinator, `coordinator${concrete.replace('/coordinator', '').replace(/[^a-z0-9]+/gi, '-') || '-home'}`);
  }

  // 6. Logout; the back button does not bring the private page back from the cache.
  await goto(me, '/profile');
  await expectText(me, 'h1', /Your profile/, 'the profile is open before logging out');
  await logOut(me);
  await expectText(me, 'h1', /Meet a colleague/, 'logging out returns to the home page');
  await me.goBack();
  await me.waitForLoadState();
  const afterBack = await text(me.locator('body'));
  // Reported with the page checks rather than stopping here, so one run shows every problem.
  if (afterBack.includes('Your profile') || afterBack.includes(email)) {
    problems.push(`back button after logout: the profile is shown again from the browser's cache ("${afterBack.slice(0, 80)}…")`);
    await goto(me, '/login');
  } else {
    log('ok  the back button after logout does not show the profile');
    await expectText(me, 'h1', /Log in/, 'the back button after logout asks to log in');
  }

  // Forgotten password, from the login page to the emailed reset link.
  await follow(me, me.getByRole('link', { name: 'Forgot your password?' }));
  await inspect(me, 'password-forgot');
  await me.getByLabel('Work email').fill(email);
  await follow(me, me.getByRole('button'));
  await expectText(me, 'h1', /Check your email/, 'asking for a reset says to check the email');
  const reset = await mailbox.next(email);
  await goto(me, linkIn(reset, { prefix: `${BASE}/password/reset?token=` }));
  await expectText(me, 'h1', /Choose a new password/, 'the emailed reset link opens the form');
  await inspect(me, 'password-reset');
  await me.getByLabel('New password').fill(NEW_PASSWORD);
  await follow(me, me.getByRole('button', { name: 'Save the new password' }));
  await expectText(me, '.flash', /Log in with the new one/, 'the reset says to log in again');
  await logIn(me, email, NEW_PASSWORD);
  await expectText(me, 'h1', /Your profile/, 'the new password logs in');
  await logOut(me);
  await goto(me, '/confirm/resend');
  await inspect(me, 'confirm-resend');

  // Keyboard only: a second new visitor signs up with Tab, typing and Enter, in a fresh profile.
  const keyboardContext = await newContext();
  const kb = await tab(keyboardContext, 'keyboard');
  await goto(kb, '/signup');
  const kbEmail = `sam.keys.${Date.now().toString(36)}@${DOMAIN}`;
  const typed = { email: kbEmail, name: 'Sam Keys', password: PASSWORD, role: 'Pharmacist', department: 'Cardiology', site: 'South' };
  const order = [];
  let reachedSubmit = false;
  for (let presses = 0; presses < 60 && !reachedSubmit; presses++) {
    await kb.keyboard.press('Tab');
    const focus = await kb.evaluate(() => {
      const el = document.activeElement;
      return { tag: el.tagName.toLowerCase(), type: el.type || '', id: el.id, text: el.innerText || '', visible: el.matches(':focus-visible') };
    });
    if (focus.tag !== 'body' && !focus.visible) problems.push(`keyboard signup: ${focus.tag}#${focus.id} has focus but no visible focus style`);
    order.push(focus.id || `${focus.tag}:${focus.text.trim()}`);
    if (focus.tag === 'input' && typed[focus.id] !== undefined) await kb.keyboard.type(typed[focus.id]);
    if (focus.tag === 'select' && typed[focus.id] !== undefined) await kb.keyboard.type(typed[focus.id]);
    if (focus.type === 'radio') await kb.keyboard.press('ArrowDown'); // a stage: arrows move and check
    if (focus.tag === 'button' && /Create my account/.test(focus.text)) reachedSubmit = true;
  }
  log(`tab order: ${order.join(' > ')}`);
  expect(reachedSubmit, 'Tab reaches the "Create my account" button');
  const fields = ['email', 'name', 'password', 'role', 'department'].map((id) => order.indexOf(id));
  expect(fields.every((at, i) => at >= 0 && (i === 0 || at > fields[i - 1])), `the fields come in reading order (${fields.join(', ')})`);
  await Promise.all([kb.waitForNavigation(), kb.keyboard.press('Enter')]);
  await expectText(kb, 'h1', /Check your email/, 'a keyboard-only signup goes through');
  const kbMail = await mailbox.next(kbEmail);
  expect(kbMail.text.includes('/confirm?token='), 'the keyboard-only signup is sent its confirmation link');

  // 7. Signing in with the hospital's account (when the app has an identity provider): a new
  // person answers the profile questions on one page; another cancels at the provider.
  if (process.env.OIDC_BUTTON) {
    // Only this machine: the provider's development pages load a web font from elsewhere.
    const isolated = async () => {
      const context = await newContext();
      await context.route(/^https?:\/\/(?!127\.0\.0\.1[:/])/, (route) => route.abort());
      return context;
    };
    const sso = await tab(await isolated(), 'sso');
    await goto(sso, '/login');
    await inspect(sso, 'login-with-provider');
    await follow(sso, sso.getByRole('button', { name: process.env.OIDC_BUTTON }));
    // The provider's own development pages (not this app's, so not checked): log in, consent.
    await sso.locator('input[name=login]').fill(process.env.OIDC_LOGIN);
    await sso.locator('input[name=password]').fill('any password');
    await follow(sso, sso.locator('button[type=submit]'));
    await follow(sso, sso.locator('button[type=submit]'));
    await expectText(sso, 'h1', /Welcome to Coffee Rounds/, 'a first sign-in asks the profile questions');
    await expectText(sso, 'main', new RegExp(process.env.OIDC_LOGIN.replace(/[.+]/g, '\\$&')), 'the page names the address the provider gave');
    await inspect(sso, 'first-sign-in');
    await follow(sso, sso.getByRole('button', { name: 'Join Coffee Rounds' }));
    await expectText(sso, '.error-summary', /Please check the form/, 'missing answers are pointed out');
    await inspect(sso, 'first-sign-in-missing-answers', { status: 422 });
    await sso.getByLabel('Profession').selectOption({ label: 'Nurse' });
    await sso.getByRole('radio', { name: /^Trainee\b/ }).check();
    await sso.getByLabel('Department', { exact: true }).selectOption({ label: 'Oncology' });
    // The program lists two campuses, so the first sign-in asks for one like the sign-up form.
    await sso.getByLabel('Site', { exact: true }).selectOption({ label: 'South Campus' });
    await follow(sso, sso.getByRole('button', { name: 'Join Coffee Rounds' }));
    await expectText(sso, 'h1', /Your profile/, 'the answers open the profile');
    await expectText(sso, '#participation', /You are taking part/, 'the new member takes part');
    await inspect(sso, 'profile-after-sign-in');

    const cancel = await tab(await isolated(), 'sso-cancel');
    await goto(cancel, '/login');
    await follow(cancel, cancel.getByRole('button', { name: process.env.OIDC_BUTTON }));
    await follow(cancel, cancel.getByRole('link', { name: /Cancel/ }));
    await expectText(cancel, 'h1', /You were not signed in/, 'cancelling at the provider is explained');
    await inspect(cancel, 'sign-in-cancelled', { status: 403 });
  }
} catch (error) {
  failed = true;
  console.error(`\nJOURNEY FAILED: ${error.stack || error}`);
  for (const page of browser.contexts().flatMap((c) => c.pages())) {
    const shot = path.join(ARTIFACTS, 'screenshots', `failure-${page.who}.png`);
    await page.screenshot({ path: shot, fullPage: true }).catch(() => {});
    console.error(`  ${page.who} was at ${page.url()} (screenshot ${shot})`);
  }
} finally {
  await browser.close();
}

// The Nu HTML Checker, once over every page (one Java start takes about a second).
const vnu = spawnSync(
  'java',
  ['-jar', path.join(here, 'node_modules/vnu-jar/build/dist/vnu.jar'), '--errors-only', '--format', 'json', '--stdout', ...pages.map((p) => p.htmlFile)],
  { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 },
);
let vnuErrors = [];
if (pages.length) {
  try {
    vnuErrors = JSON.parse(vnu.stdout).messages.filter((m) => m.type === 'error' || m.subType === 'fatal');
  } catch {
    problems.push(`the Nu HTML Checker did not run (exit ${vnu.status}): ${vnu.error ?? ''} ${vnu.stderr}`);
  }
}
for (const m of vnuErrors) {
  const page = pages.find((p) => m.url && m.url.endsWith(path.basename(p.htmlFile)));
  problems.push(`${page?.name ?? m.url}: HTML error line ${m.lastLine}: ${m.message} [${(m.extract || '').replace(/\s+/g, ' ').trim()}]`);
}

const summary = {
  pages: pages.map(({ name, url, status }) => ({ name, url, status })),
  axe: axeByRule,
  vnuErrors: vnuErrors.length,
  problems,
  journeyCompleted: !failed,
  seconds: Math.round((Date.now() - started) / 1000),
};
fs.writeFileSync(path.join(ARTIFACTS, 'summary.json'), JSON.stringify(summary, null, 2));
console.log(`\n${pages.length} pages checked in ${summary.seconds} s; screenshots and HTML in ${ARTIFACTS}`);
console.log(`axe rules violated: ${Object.entries(axeByRule).map(([id, v]) => `${id} (${v.impact}, ${v.pages.length} pages)`).join(', ') || 'none'}`);
console.log(`Nu HTML Checker errors: ${vnuErrors.length}`);
for (const problem of problems) console.log(`PROBLEM ${problem}`);
process.exit(failed || problems.length ? 1 : 0);
