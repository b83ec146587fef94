// A phone photo (often 5-10 MB) is shrunk before it is sent: at most 2048 px on its long side,
// JPEG, usually under 1 MB, so the claim goes through on slow 4G. The form works without this;
// the server accepts the original up to its limit and re-encodes it anyway. Anything that fails
// here (an old browser, no memory for the canvas, a photo that never decodes) leaves the
// original file in place and the form free to go.
(function () {
  var input = document.querySelector('input[type=file][data-shrink]');
  if (!input || !input.form) return;
  var maxBytes = parseInt(input.getAttribute('data-max-bytes'), 10) || 0;
  var notice = document.getElementById('evidence-too-large');

  function refuseTooLarge() {
    // a photo still over the server's limit (it did not shrink) would be refused after a long
    // upload on 4G: say so now, and leave the field empty for another photo
    var file = input.files && input.files[0];
    var over = !!(file && maxBytes && file.size > maxBytes);
    if (notice) { notice.textContent = over ? input.getAttribute('data-too-large') : ''; notice.hidden = !over; }
    if (over) input.value = '';
    return over;
  }
  input.addEventListener('change', function () { if (notice) notice.hidden = true; });

  if (!window.URL || !URL.createObjectURL || !window.File || !HTMLCanvasElement.prototype.toBlob ||
      !(function () { try { new DataTransfer(); return true; } catch (e) { return false; } })()) {
    // older engines (DataTransfer for drag events only): no shrinking, the size is still checked
    input.addEventListener('change', refuseTooLarge);
    return;
  }
  var MAX_SIDE = 2048, MIN_BYTES = 900 * 1024, GIVE_UP_MS = 10000;
  var form = input.form, pending = 0, submitAfter = false;

  function finish(state) {
    if (state.done) return;
    state.done = true;
    clearTimeout(state.timer);
    pending -= 1;
    var refused = refuseTooLarge();
    if (pending === 0 && submitAfter) { submitAfter = false; if (!refused) form.submit(); }
  }

  function shrink(file, state) {
    var url = URL.createObjectURL(file), img = new Image();
    img.onload = function () {
      try {
        var scale = Math.min(1, MAX_SIDE / Math.max(img.naturalWidth, img.naturalHeight));
        var canvas = document.createElement('canvas');
        canvas.width = Math.round(img.naturalWidth * scale);
        canvas.height = Math.round(img.naturalHeight * scale);
        var ctx = canvas.getContext('2d');
        ctx.fillStyle = '#fff';  // a PNG's transparent parts on white, as the thumbnails show them
        ctx.fillRect(0, 0, canvas.width, canvas.height);
        ctx.drawImage(img, 0, 0, canvas.width, canvas.height);
        canvas.toBlob(function (blob) {
          try {
            if (!state.done && blob && blob.size < file.size && input.files[0] === file) {
              var list = new DataTransfer();
              list.items.add(new File([blob], file.name.replace(/\.[^.]*$/, '') + '.jpg', {type: 'image/jpeg'}));
              input.files = list.files;
            }
          } catch (e) { /* keep the original */ }
          finish(state);
        }, 'image/jpeg', 0.85);
      } catch (e) {
        finish(state);
      } finally {
        URL.revokeObjectURL(url);
      }
    };
    img.onerror = function () { URL.revokeObjectURL(url); finish(state); };
    img.src = url;
  }

  input.addEventListener('change', function () {
    var file = input.files && input.files[0];
    if (!file || file.size < MIN_BYTES) return;
    if (!/^image\/(jpeg|png)$/.test(file.type)) { refuseTooLarge(); return; }
    var state = {done: false};
    pending += 1;
    state.timer = setTimeout(function () { finish(state); }, GIVE_UP_MS);  // send the original
    try { shrink(file, state); } catch (e) { finish(state); }
  });

  form.addEventListener('submit', function (event) {
    if (pending > 0) { event.preventDefault(); submitAfter = true; }  // wait for the smaller copy
  });
})();
