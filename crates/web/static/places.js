// The place picker's only script (the picker works without it): as a place is typed, the
// suggestions list is filled from /api/v1/places, so counties and pinyin find their place too.
'use strict';
(function () {
  var boxes = document.querySelectorAll('input[data-places]');
  Array.prototype.forEach.call(boxes, function (box) {
    var list = document.getElementById(box.getAttribute('data-places'));
    if (!list) return;
    var timer = null;
    var asked = '';
    box.addEventListener('input', function () {
      clearTimeout(timer);
      timer = setTimeout(function () {
        var q = box.value.trim();
        if (q === '' || q === asked || /（\d{6}）$/.test(q)) return;
        asked = q;
        fetch('/api/v1/places?limit=12&q=' + encodeURIComponent(q), {
          credentials: 'same-origin',
          headers: { accept: 'application/json' }
        })
          .then(function (r) { return r.ok ? r.json() : { items: [] }; })
          .then(function (body) {
            if (box.value.trim() !== q || body.items.length === 0) return;
            list.textContent = '';
            body.items.forEach(function (p) {
              var o = document.createElement('option');
              o.value = p.full_name + '（' + p.code + '）';
              // Browsers filter suggestions by what was typed: the pinyin and initials let
              // 「kunming」 and 「km」 keep theirs.
              var syllables = p.pinyin.split(' ');
              o.label = syllables.join('') + ' ' + syllables.map(function (s) { return s[0]; }).join('');
              list.appendChild(o);
            });
          })
          .catch(function () {});
      }, 150);
    });
  });
})();
