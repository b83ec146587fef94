// A phone photo (often 5-10 MB) is shrunk before it is sent: at most 2048 px on its long side,
// JPEG, usually under 1 MB, so the claim goes through on slow 4G. The form works without this;
// the server accepts the original up to its limit and re-encodes it anyway.
(function () {
  var input = document.querySelector('input[type=file][data-shrink]');
  if (!input || !window.DataTransfer || !window.URL || !HTMLCanvasElement.prototype.toBlob) return;
  var MAX_SIDE = 2048, MIN_BYTES = 900 * 1024;
  var form = input.form, pending = 0, submitAfter = false;

  function done() {
    pending -= 1;
    if (pending === 0 && submitAfter) { submitAfter = false; form.submit(); }
  }

  input.addEventListener('change', function () {
    var file = input.files && input.files[0];
    if (!file || !/^image\/(jpeg|png)$/.test(file.type) || file.size < MIN_BYTES) return;
    var url = URL.createObjectURL(file), img = new Image();
    pending += 1;
    img.onload = function () {
      var scale = Math.min(1, MAX_SIDE / Math.max(img.naturalWidth, img.naturalHeight));
      var canvas = document.createElement('canvas');
      canvas.width = Math.round(img.naturalWidth * scale);
      canvas.height = Math.round(img.naturalHeight * scale);
      var ctx = canvas.getContext('2d');
      ctx.fillStyle = '#fff';  // a PNG's transparent parts on white, as the thumbnails show them
      ctx.fillRect(0, 0, canvas.width, canvas.height);
      ctx.drawImage(img, 0, 0, canvas.width, canvas.height);
      URL.revokeObjectURL(url);
      canvas.toBlob(function (blob) {
        if (blob && blob.size < file.size && input.files[0] === file) {
          var list = new DataTransfer();
          list.items.add(new File([blob], file.name.replace(/\.[^.]*$/, '') + '.jpg', {type: 'image/jpeg'}));
          input.files = list.files;
        }
        done();
      }, 'image/jpeg', 0.85);
    };
    img.onerror = function () { URL.revokeObjectURL(url); done(); };
    img.src = url;
  });

  form.addEventListener('submit', function (event) {
    if (pending > 0) { event.preventDefault(); submitAfter = true; }  // wait for the smaller copy
  });
})();
