// One PR comment or one issue per marker, updated in place, never stacked (used by every workflow).
// A hidden HTML marker finds the previous post, so stacks and matrix jobs never overwrite each other.
// Only a post written by the workflow's own identity is adopted: anyone can type the marker.
const LIMIT = 65536; // GitHub's maximum comment and issue body size
const fs = require('fs');
// The identity GITHUB_TOKEN writes as. A caller using another token passes its login as `author`.
const WORKFLOW_IDENTITY = 'github-actions[bot]';

function ours(post, marker, author) {
  return Boolean(post.body && post.body.startsWith(`<!-- ${marker} -->`) && post.user
    && post.user.login === author && post.user.type === 'Bot');
}

function trimmed(body, note) {
  const tail = `\n\n… trimmed to stay under GitHub's ${LIMIT}-character limit. ${note}`;
  return body.length <= LIMIT - 100 ? body : body.slice(0, LIMIT - 100 - tail.length) + tail;
}

function bodyFrom(marker, title, file, note) {
  const text = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '(no output was produced)';
  return trimmed(`<!-- ${marker} -->\n## ${title}\n\n${text}`, note);
}

async function upsertComment({ github, context, marker, title, file, note, author = WORKFLOW_IDENTITY }) {
  const { owner, repo } = context.repo;
  const issue_number = context.issue.number;
  const body = bodyFrom(marker, title, file, note);
  const comments = await github.paginate(github.rest.issues.listComments, { owner, repo, issue_number, per_page: 100 });
  const previous = comments.find((c) => ours(c, marker, author));
  if (previous) {
    await github.rest.issues.updateComment({ owner, repo, comment_id: previous.id, body });
  } else {
    await github.rest.issues.createComment({ owner, repo, issue_number, body });
  }
}

async function upsertIssue({ github, context, marker, title, file, note, labels, author = WORKFLOW_IDENTITY }) {
  const { owner, repo } = context.repo;
  const body = bodyFrom(marker, title, file, note);
  const open = await github.paginate(github.rest.issues.listForRepo, { owner, repo, state: 'open', labels: labels.join(','), per_page: 100 });
  const previous = open.find((i) => ours(i, marker, author));
  if (previous) {
    await github.rest.issues.update({ owner, repo, issue_number: previous.number, body });
    await github.rest.issues.createComment({ owner, repo, issue_number: previous.number, body: `Seen again in ${context.serverUrl}/${owner}/${repo}/actions/runs/${context.runId}` });
  } else {
    await github.rest.issues.create({ owner, repo, title, body, labels });
  }
}

module.exports = { upsertComment, upsertIssue, trimmed, WORKFLOW_IDENTITY };
