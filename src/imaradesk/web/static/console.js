// The console's own behaviour, served from our origin so the Content-Security-Policy can forbid
// inline scripts and handlers.
document.addEventListener("DOMContentLoaded", () => {
  const thread = document.getElementById("thread");
  if (thread) {
    // A conversation opens at its newest message and follows new ones, unless the agent has
    // scrolled up to read.
    thread.scrollTop = thread.scrollHeight;
    thread.addEventListener("scroll", () => {
      const atEnd = thread.scrollHeight - thread.scrollTop - thread.clientHeight < 40;
      thread.dataset.follow = atEnd ? "yes" : "no";
    });
    document.body.addEventListener("htmx:afterSwap", (event) => {
      if (event.target === thread && thread.dataset.follow !== "no") {
        thread.scrollTop = thread.scrollHeight;
      }
    });
  }
  // "Use this" puts a suggested answer into the reply box.
  document.addEventListener("click", (event) => {
    const button = event.target.closest("button.use-answer");
    const reply = document.getElementById("reply-text");
    if (button && reply) reply.value = button.dataset.answer;
  });
});
