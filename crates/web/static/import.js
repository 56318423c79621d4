// The import pages' only script (the pages work without it): the preview's 确认导入 button
// follows the 部分导入 box, and the progress page polls its job until the import ends.
'use strict';
(function () {
  var form = document.getElementById('commit-form');
  if (form) {
    var rejected = Number(form.getAttribute('data-rejected') || '0');
    var box = form.querySelector('input[type=checkbox][name=partial]');
    var button = form.querySelector('button[type=submit]');
    var sync = function () {
      button.disabled = rejected > 0 && !(box && box.checked);
    };
    if (box) box.addEventListener('change', sync);
    sync();
  }

  var bar = document.getElementById('import-progress');
  if (bar) {
    var text = document.getElementById('import-progress-text');
    var url = bar.getAttribute('data-status');
    var poll = function () {
      fetch(url, { credentials: 'same-origin', headers: { accept: 'application/json' } })
        .then(function (r) {
          if (!r.ok) throw new Error('HTTP ' + r.status);
          return r.json();
        })
        .then(function (s) {
          if (s.state !== 'running') {
            window.location.reload();
            return;
          }
          bar.max = Math.max(s.total, 1);
          bar.value = s.processed;
          if (text) text.textContent = '已处理 ' + s.processed + ' / ' + s.total + ' 行';
          setTimeout(poll, 1000);
        })
        .catch(function () {
          setTimeout(poll, 3000);
        });
    };
    setTimeout(poll, 500);
  }
})();
