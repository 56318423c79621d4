// The header's sections scroll sideways on a phone: bring the current one into view, so that
// 我的 or 审计 is seen highlighted on its own page. The header works without this script; it
// only saves a swipe.
const on = document.querySelector('header.top nav a.on');
if (on) {
  const nav = on.parentElement;
  const left = on.getBoundingClientRect().left - nav.getBoundingClientRect().left;
  nav.scrollLeft += left - (nav.clientWidth - on.offsetWidth) / 2;
}
