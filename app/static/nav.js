// The phone's one-row navigation: scroll the current page's (or section's) link into view (the links work without this).
(function () {
  var link = document.querySelector('.nav a[aria-current]');
  if (!link) return;
  var nav = link.parentElement;
  if (nav.scrollWidth <= nav.clientWidth) return;
  nav.scrollLeft = link.offsetLeft - (nav.clientWidth - link.offsetWidth) / 2;
})();
