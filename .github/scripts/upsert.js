// One PR comment or one issue per marker, updated in place, never stacked (used by every workflow).
// A hidden HTML marker finds the previous post, so stacks and matrix jobs never overwrite each other.
const LIMIT = 65536; // GitHub's maximum comment and issue body size
const fs = require('fs');

function trimmed(body, note) {
  const tail = `\n\n… trimmed to stay under GitHub's ${LIMIT}-character limit. ${note}`;
  return body.length <= LIMIT - 100 ? body : body.slice(0, LIMIT - 100 - tail.length) + tail;
}

function bodyFrom(marker, title, file, note) {
  const text = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '(no output was produced)';
  return trimmed(`<!-- ${marker} -->\n## ${title}\n\n${text}`, note);
}

async function upsertComment({ github, context, marker, title, file, note }) {
  const { owner, repo } = context.repo;
  const issue_number = context.issue.number;
  const body = bodyFrom(marker, title, file, note);
  const comments = await github.paginate(github.rest.issues.listComments, { owner, repo, issue_number, per_page: 100 });
  const previous = comments.find((c) => c.body && c.body.startsWith(`<!-- ${marker} -->`));
  if (previous) {
    await github.rest.issues.updateComment({ owner, repo, comment_id: previous.id, body });
  } else {
    await github.rest.issues.createComment({ owner, repo, issue_number, body });
  }
}

async function upsertIssue({ github, context, marker, title, file, note, labels }) {
  const { owner, repo } = context.repo;
  const body = bodyFrom(marker, title, file, note);
  const open = await github.paginate(github.rest.issues.listForRepo, { owner, repo, state: 'open', labels: labels.join(','), per_page: 100 });
  const previous = open.find((i) => i.body && i.body.startsWith(`<!-- ${marker} -->`));
  if (previous) {
    await github.rest.issues.update({ owner, repo, issue_number: previous.number, body });
    await github.rest.issues.createComment({ owner, repo, issue_number: previous.number, body: `Seen again in ${context.serverUrl}/${owner}/${repo}/actions/runs/${context.runId}` });
  } else {
    await github.rest.issues.create({ owner, repo, title, body, labels });
  }
}

module.exports = { upsertComment, upsertIssue, trimmed };
