// Progressive enhancement only: every form works without this file.
// List fields (one item a line in a textarea) become rows with Add and Remove buttons;
// a chosen badge image is shown before it is uploaded; a reviewer sees their own weighted
// score as they choose levels.
(function () {
  "use strict";

  function enhance(textarea) {
    var name = textarea.getAttribute("data-list-label") || "Item";
    var box = document.createElement("div");
    box.className = "list-rows";
    var list = document.createElement("ol");
    box.appendChild(list);
    var add = document.createElement("button");
    add.type = "button";
    add.className = "secondary";
    add.textContent = "Add to " + name.toLowerCase();
    box.appendChild(add);

    function sync() {
      var values = [];
      list.querySelectorAll("input").forEach(function (input) {
        if (input.value.trim()) { values.push(input.value.trim()); }
      });
      textarea.value = values.join("\n");
    }

    function renumber() {
      list.querySelectorAll("li").forEach(function (li, i) {
        li.querySelector("input").setAttribute("aria-label", name + " " + (i + 1));
        li.querySelector("button").setAttribute("aria-label", "Remove " + name.toLowerCase() + " " + (i + 1));
      });
    }

    function row(value) {
      var li = document.createElement("li");
      var input = document.createElement("input");
      input.type = "text";
      input.value = value;
      input.addEventListener("input", sync);
      var remove = document.createElement("button");
      remove.type = "button";
      remove.className = "link";
      remove.textContent = "Remove";
      remove.addEventListener("click", function () {
        var next = li.nextElementSibling || li.previousElementSibling;
        li.remove();
        renumber();
        sync();
        if (next) { next.querySelector("input").focus(); } else { add.focus(); }
      });
      li.appendChild(input);
      li.appendChild(remove);
      list.appendChild(li);
      renumber();
      return input;
    }

    textarea.value.split("\n").forEach(function (line) {
      if (line.trim()) { row(line.trim()); }
    });
    add.addEventListener("click", function () { row("").focus(); });
    textarea.hidden = true;
    textarea.insertAdjacentElement("afterend", box);
    textarea.form.addEventListener("submit", sync);
  }

  document.querySelectorAll("textarea.list-field").forEach(enhance);
})();

// A chosen badge image is previewed before upload; read as a data: URL, which the page's
// Content-Security-Policy allows for images (blob: URLs it does not).
(function () {
  "use strict";

  document.querySelectorAll("input[type=file][data-preview]").forEach(function (input) {
    var box = document.getElementById(input.getAttribute("data-preview"));
    if (!box) { return; }
    var img = box.querySelector("img");
    input.addEventListener("change", function () {
      var file = input.files && input.files[0];
      if (!file) { box.hidden = true; return; }
      var reader = new FileReader();
      reader.addEventListener("load", function () {
        img.src = reader.result;
        img.alt = "Preview of the chosen file " + file.name;
        box.hidden = false;
      });
      reader.readAsDataURL(file);
    });
  });
})();

// A reviewer's own weighted score, worked out as rubric/scoring.py's weighted_score does:
// each criterion's weight times its level's points over the top level's points.
(function () {
  "use strict";

  document.querySelectorAll("form.rubric[data-max-points]").forEach(function (form) {
    var out = form.querySelector(".my-score");
    var max = parseFloat(form.getAttribute("data-max-points"));
    var criteria = form.querySelectorAll("fieldset.criterion[data-weight]");
    if (!out || !(max > 0) || !criteria.length) { return; }

    function update() {
      var total = 0, earned = 0, chosen = 0;
      criteria.forEach(function (criterion) {
        var weight = parseFloat(criterion.getAttribute("data-weight"));
        var picked = criterion.querySelector("input[type=radio]:checked");
        total += weight;
        if (picked) {
          chosen += 1;
          earned += weight * parseFloat(picked.getAttribute("data-points")) / max;
        }
      });
      out.textContent = chosen === 0
        ? "Choose a level for each criterion to see your weighted score."
        : "Your weighted score with these levels: " + (Math.round(10000 * earned / total) / 100) +
          "% (" + chosen + " of " + criteria.length + " criteria chosen" +
          (chosen < criteria.length ? "; the others count as zero" : "") + ").";
    }

    out.hidden = false;
    form.addEventListener("change", update);
    update();
  });
})();
